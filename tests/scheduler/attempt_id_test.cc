// Job and attempt ids (scheduler/attempt_id.h): formatting, parsing, and the directory name the
// coordinator and the worker both derive from an attempt id.
#include "scheduler/attempt_id.h"

#include <gtest/gtest.h>

namespace sawmill::sched {
namespace {

TEST(AttemptId, FormatsAndParsesBack) {
  EXPECT_EQ(JobId(3), "job-3");
  EXPECT_EQ(ParseJobNumber("job-3"), 3);
  EXPECT_EQ(TaskName(false, 7), "m-00007");
  EXPECT_EQ(TaskName(true, 2), "r-00002");
  const std::string id = AttemptId("job-3", false, 7, 1);
  EXPECT_EQ(id, "job-3/m-00007/1");
  AttemptName n;
  ASSERT_TRUE(ParseAttemptId(id, &n));
  EXPECT_EQ(n.job, "job-3");
  EXPECT_FALSE(n.reduce);
  EXPECT_EQ(n.task, 7);
  EXPECT_EQ(n.dir, "m-00007_1");
  ASSERT_TRUE(ParseAttemptId(AttemptId("job-12", true, 123456, 0), &n));
  EXPECT_TRUE(n.reduce);
  EXPECT_EQ(n.task, 123456);
  EXPECT_EQ(n.dir, "r-123456_0");
}

TEST(AttemptId, RejectsOtherShapes) {
  for (const char* bad : {"", "job-3", "job-3/m-00007", "job-3/x-00007/1", "job-3/m-/1", "job-3/m-0000000001/1",
                          "job-3/m-12a/1", "job-3/m-7"}) {
    AttemptName n;
    EXPECT_FALSE(ParseAttemptId(bad, &n)) << bad;
  }
  for (const char* bad : {"", "job-", "job-x", "jab-3", "job-1234567890", "job--1"}) {
    EXPECT_EQ(ParseJobNumber(bad), -1) << bad;
  }
}

TEST(AttemptId, DirNameNeverHoldsASlash) {
  EXPECT_EQ(AttemptDirName("job-3", "job-3/m-00007/1"), "m-00007_1");
  EXPECT_EQ(AttemptDirName("job-7", "job-7/."), ".");  // the worker refuses such ids besides
  EXPECT_EQ(AttemptDirName("job-3", "other/m-00001/0"), "other_m-00001_0");
  EXPECT_EQ(AttemptDirName("job-3", "job-3/m-00001/0/x"), "m-00001_0_x");
}

}  // namespace
}  // namespace sawmill::sched
