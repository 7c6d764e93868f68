// What `sawmill job status` prints (FormatJobStatus): a program's stages in order with their
// state and progress, a stage's program, and plain jobs as before.
#include <capnp/message.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "scheduler/job_client.h"
#include "tests/scheduler/program_fixture.h"

namespace sawmill::sched {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool Has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(FormatJobStatus, ProgramPrintsItsStagesInOrder) {
  capnp::MallocMessageBuilder m;
  auto s = m.initRoot<proto::JobStatus>();
  testing::FillPageRankProgram(s);
  const std::vector<std::string> lines = Lines(FormatJobStatus(s.asReader(), true));
  size_t at = 0;
  while (at < lines.size() && !Has(lines[at], "stages (25, in submission order):")) ++at;
  ASSERT_LT(at, lines.size()) << FormatJobStatus(s.asReader(), true);
  ASSERT_GE(lines.size(), at + 27);
  // Columns aligned: key, operators, state, maps, reduces, seconds.
  EXPECT_EQ(lines[at + 1], "    s0     ReadText,FlatMap  succeeded  maps 4/4  reduces 2/2  0.4 s");
  EXPECT_EQ(lines[at + 2], "    s1     ReduceByKey       succeeded  maps 4/4  reduces 2/2  0.4 s");
  EXPECT_EQ(lines[at + 3], "    r0     Map,ReduceByKey   succeeded  maps 4/4  reduces 2/2  0.4 s");
  EXPECT_EQ(lines[at + 4], "    s2-i0  Join,Map          succeeded  maps 4/4  reduces 2/2  0.4 s");
  EXPECT_EQ(lines[at + 17], "    s3-i6  ReduceByKey       running    maps 2/4  reduces 0/2  0.3 s");
  EXPECT_EQ(lines[at + 18], "    s2-i7  Join,Map          waiting    maps 0/4  reduces 0/2  -");
  EXPECT_EQ(lines[at + 24], "    s4     Map,TopK          waiting    maps 0/4  reduces 0/2  -");
  EXPECT_EQ(lines[at + 25], "    s5     WriteText         waiting    maps 0/4  reduces 0/0  -");
  EXPECT_EQ(lines[at + 26], "  program master attempts:");
  EXPECT_TRUE(Has(lines[at + 27], "job-7_m_0_0")) << lines[at + 27];
  EXPECT_TRUE(Has(lines[0], "job-7 pagerank running: a dataflow program, 25 stages, ")) << lines[0];
  EXPECT_FALSE(Has(lines[1], "data-local")) << lines[1];  // its one task is its master

  // The job list keeps one short entry per job.
  EXPECT_FALSE(Has(FormatJobStatus(s.asReader(), false), "stages ("));
}

TEST(FormatJobStatus, StageNamesItsProgramAndPlainJobsHaveNoStages) {
  capnp::MallocMessageBuilder m;
  auto s = m.initRoot<proto::JobStatus>();
  s.setJobId("job-19");
  s.setName("pagerank");
  s.setState("succeeded");
  const std::string plain = FormatJobStatus(s.asReader(), true);
  EXPECT_FALSE(Has(plain, "stage")) << plain;
  EXPECT_FALSE(Has(plain, "program"));
  s.setParentJob("job-7");
  s.setStageKey("s2-i3");
  EXPECT_TRUE(Has(FormatJobStatus(s.asReader(), true), "\n  stage s2-i3 of program job-7\n"));
}

}  // namespace
}  // namespace sawmill::sched
