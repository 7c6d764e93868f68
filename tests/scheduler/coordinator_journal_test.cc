// The coordinator's journal (scheduler/coordinator_journal.h): replay of every record kind, a
// journal cut at every offset or with any byte flipped replays the records before the damage,
// group commit makes records durable, and compaction keeps what is live.
#include "scheduler/coordinator_journal.h"

#include <glog/logging.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/capnp_util.h"
#include "common/file.h"
#include "tests/common/temp_dir.h"
#include "tests/common/wait_for.h"

namespace sawmill::sched {
namespace {

using sawmill::testing::TempDir;
using sawmill::testing::WaitFor;

std::string Submission(const std::string& name) {
  capnp::MallocMessageBuilder m;
  auto s = m.initRoot<proto::JobSubmission>();
  s.setName(name);
  s.setOutput("dfs:/out/" + name);
  return CapnpToString(m);
}

std::string Task(const std::string& attempt, const std::string& worker, uint64_t records) {
  capnp::MallocMessageBuilder m;
  auto r = m.initRoot<::sawmill::proto::AttemptResult>();
  r.setOk(true);
  r.setRecordsOut(records);
  return JournalTaskRecord(attempt, worker, r.asReader());
}

std::string Job(const std::string& id, const std::string& name) {
  auto bytes = Submission(name);
  auto reader = CapnpReader::Parse(bytes);
  return JournalJobRecord(id, (*reader)->Root<proto::JobSubmission>(), 1000);
}

// A summary of a state, to compare replays.
std::string Describe(const JournalState& st) {
  std::string s = "epoch " + std::to_string(st.epoch) + " next " + std::to_string(st.next_job) + "/" +
                  std::to_string(st.next_worker) + ";";
  for (const auto& [id, w] : st.workers) s += " worker " + id + "@" + w.address;
  for (const auto& j : st.jobs) {
    s += " job " + j.id + (j.finished ? " finished" : "") + (j.commit_started ? " committing" : "") + " tasks";
    for (const auto& [key, t] : j.tasks) s += " " + t.attempt_id + "@" + t.worker;
  }
  return s;
}

std::vector<std::string> Records() {
  return {JournalStartRecord(2, 5, 3),
          JournalWorkerRecord({"w3-a", "a", "a:1", 2}),
          JournalWorkerRecord({"w4-b", "b", "b:1", 2}),
          Job("job-5", "first"),
          Task("job-5/m-00000/0", "w3-a", 10),
          Task("job-5/m-00001/0", "w4-b", 11),
          JournalWorkerLostRecord("w4-b"),
          Task("job-5/m-00001/1000", "w3-a", 11),  // the rerun replaces the lost output
          Job("job-6", "second"),
          JournalCommitStartedRecord("job-5"),
          Task("job-6/r-00000/0", "w3-a", 1),
          JournalFinishedRecord("job-5")};
}

// Writes `records` as a journal at `path` (through the writer the coordinator uses).
void WriteJournal(const std::string& path, const std::vector<std::string>& records) {
  auto j = CoordinatorJournal::Create(path, records);
  ASSERT_TRUE(j.ok()) << j.status().ToString();
}

TEST(CoordinatorJournalTest, ReplaysEveryRecordKind) {
  TempDir tmp;
  const std::string path = tmp.Sub("journal");
  WriteJournal(path, Records());
  auto st = LoadCoordinatorJournal(path);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(Describe(*st),
            "epoch 2 next 7/5; worker w3-a@a:1 job job-5 finished committing tasks job job-6 tasks "
            "job-6/r-00000/0@w3-a");
  EXPECT_EQ(st->read.records, Records().size());
  // An absent journal is an empty state (a coordinator's first start).
  auto none = LoadCoordinatorJournal(tmp.Sub("none"));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(Describe(*none), "epoch 0 next 1/1;");
}

// A coordinator killed mid-write leaves a record cut anywhere; a disk may flip a byte. Either way
// the replay is exactly that of the records wholly before the damage, and the file is cut there
// so that appends go on.
TEST(CoordinatorJournalTest, DamageAtEveryOffsetReplaysTheRecordsBeforeIt) {
  // Each replay syncs the file it cuts: in memory, the thousand of them take a second, not a minute.
  TempDir tmp(IsDirectory("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path().string());
  ASSERT_FALSE(tmp.path().empty());
  FLAGS_minloglevel = google::GLOG_ERROR;  // every damaged replay warns; 1,400 of them say nothing new
  const std::string path = tmp.Sub("journal");
  const std::vector<std::string> records = Records();
  WriteJournal(path, records);
  std::string whole;
  ASSERT_TRUE(ReadFileToString(path, &whole).ok());
  // Where each record ends, and the replay of each prefix of records.
  std::vector<size_t> ends;
  std::vector<std::string> expected;
  size_t at = 0;
  for (size_t i = 0; i <= records.size(); ++i) {
    const std::string p = tmp.Sub("prefix");
    WriteJournal(p, std::vector<std::string>(records.begin(), records.begin() + static_cast<long>(i)));
    expected.push_back(Describe(LoadCoordinatorJournal(p).value()));
    if (i > 0) at += kJournalHeaderBytes + records[i - 1].size();
    ends.push_back(at);
  }
  const size_t used = ends.back();
  for (size_t cut = 0; cut <= used; ++cut) {
    const std::string p = tmp.Sub("cut");
    ASSERT_TRUE(WriteStringToFile(p, whole.substr(0, cut)).ok());
    size_t complete = 0;
    while (complete + 1 < ends.size() && ends[complete + 1] <= cut) ++complete;
    auto st = LoadCoordinatorJournal(p);
    ASSERT_TRUE(st.ok()) << "cut at " << cut << ": " << st.status().ToString();
    EXPECT_EQ(Describe(*st), expected[complete]) << "cut at " << cut;
    // The replay cut the file after the last whole record: a second one finds no damage
    // (checked at every 16th cut, which covers each record's header, body and end).
    if (cut % 16 != 0) continue;
    auto again = LoadCoordinatorJournal(p);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->read.dropped_bytes, 0u) << "cut at " << cut;
    EXPECT_EQ(Describe(*again), expected[complete]);
  }
  for (size_t flip = 0; flip < used; ++flip) {
    std::string bad = whole;
    bad[flip] ^= 0x40;
    const std::string p = tmp.Sub("flip");
    ASSERT_TRUE(WriteStringToFile(p, bad).ok());
    size_t complete = 0;
    while (complete + 1 < ends.size() && ends[complete + 1] <= flip) ++complete;
    auto st = LoadCoordinatorJournal(p);
    ASSERT_TRUE(st.ok()) << "flip at " << flip << ": " << st.status().ToString();
    EXPECT_EQ(Describe(*st), expected[complete]) << "flip at " << flip;
  }
}

TEST(CoordinatorJournalTest, AppendedRecordsAreDurableAndCompactionKeepsTheLiveOnes) {
  TempDir tmp;
  const std::string path = tmp.Sub("journal");
  auto j = CoordinatorJournal::Create(path, {JournalStartRecord(1, 1, 1)});
  ASSERT_TRUE(j.ok());
  uint64_t last = 0;
  for (int i = 1; i <= 50; ++i) last = (*j)->Append(Job("job-" + std::to_string(i), "j" + std::to_string(i)));
  ASSERT_TRUE((*j)->WaitDurable(last).ok());
  auto st = LoadCoordinatorJournal(path);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->jobs.size(), 50u);
  EXPECT_EQ(st->next_job, 51);
  // Compaction: the live state replaces the file; later appends follow it.
  (*j)->Compact({JournalStartRecord(1, 51, 1), Job("job-50", "j50")});
  last = (*j)->Append(Task("job-50/m-00000/0", "w1-a", 3));
  ASSERT_TRUE((*j)->WaitDurable(last).ok());
  st = LoadCoordinatorJournal(path);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(Describe(*st), "epoch 1 next 51/1; job job-50 tasks job-50/m-00000/0@w1-a");
  EXPECT_FALSE(PathExists(path + ".new"));
}

// Records nobody waits for reach the disk within the linger; WhenDurable callbacks run once their
// record is on disk, from the thread that wrote it, each once, and at once for durable ones.
TEST(CoordinatorJournalTest, UnwaitedRecordsAreWrittenAndCallbacksRunOnceDurable) {
  TempDir tmp;
  const std::string path = tmp.Sub("journal");
  // Declared before the journal, so that its thread, which runs the callbacks, is joined
  // before they go (also when an assertion returns early).
  std::mutex mu;
  std::vector<std::pair<uint64_t, bool>> called;  // seq, durable when called
  std::vector<uint64_t> seqs;
  auto j = CoordinatorJournal::Create(path, {JournalStartRecord(1, 1, 1)});
  ASSERT_TRUE(j.ok());
  (*j)->Append(Job("job-1", "j1"));  // nobody waits
  // Deadlines for a loaded 2-core machine under ASan: each callback reads the whole journal
  // back (2.5 s in all in a Release build; over 10 s once under ASan in CI).
  ASSERT_TRUE(WaitFor([&] {
    auto st = LoadCoordinatorJournal(path);
    return st.ok() && st->jobs.size() == 1;
  }, 60000));
  for (int i = 2; i <= 200; ++i) {
    const uint64_t seq = (*j)->Append(Job("job-" + std::to_string(i), "j" + std::to_string(i)));
    seqs.push_back(seq);
    (*j)->WhenDurable(seq, [&, seq, i](const Status& s) {
      auto st = LoadCoordinatorJournal(path);  // on disk by now: every job up to i
      std::lock_guard<std::mutex> l(mu);
      called.emplace_back(seq, s.ok() && st.ok() && st->jobs.size() >= static_cast<size_t>(i));
    });
  }
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> l(mu);
    return called.size() == seqs.size();
  }, 60000));
  std::lock_guard<std::mutex> l(mu);
  std::set<uint64_t> seen;
  for (const auto& [seq, durable] : called) {
    EXPECT_TRUE(durable) << "record " << seq << " was not on disk when its callback ran";
    EXPECT_TRUE(seen.insert(seq).second) << "record " << seq << " called back twice";
  }
  bool at_once = false;
  (*j)->WhenDurable(seqs.back(), [&](const Status& s) { at_once = s.ok(); });
  EXPECT_TRUE(at_once);  // durable already: called before WhenDurable returns
}

}  // namespace
}  // namespace sawmill::sched
