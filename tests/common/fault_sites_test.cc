// The fault points of docs/reliability.md at their sites: each stops the step it stands before,
// with the context the table gives, and its fail action fails that step the way the docs say.
// (The dataflow points are exercised by tests/jobs/dataflow_cluster_test.py on a real cluster.)
#include <gtest/gtest.h>

#include "common/fault_point.h"
#include "common/file.h"
#include "dfs/datanode/block_store.h"
#include "dfs/namenode/namespace_store.h"
#include "records/record_file.h"
#include "tests/common/temp_dir.h"

namespace sawmill {
namespace {

using sawmill::testing::TempDir;

class FaultSitesTest : public ::testing::Test {
 protected:
  void TearDown() override { fault::Disarm(); }
  TempDir dir_;
};

Status WriteRecords(const std::string& path) {
  ASSIGN_OR_RETURN(auto w, RecordFileWriter::Create(path, {}));
  RETURN_IF_ERROR(w->Add("k", "v"));
  return w->Finish();
}

TEST_F(FaultSitesTest, RecordsWriterBeforeFooterFailsTheFinishOfTheFilesItNames) {
  ASSERT_TRUE(fault::Arm("records.writer.before_footer@/map.out=fail(no space left (simulated))").ok());
  EXPECT_TRUE(WriteRecords(dir_.Sub("spill-0")).ok());
  Status s = WriteRecords(dir_.Sub("map.out"));
  EXPECT_EQ(s.message(), "fault point records.writer.before_footer at " + dir_.Sub("map.out") +
                             ": no space left (simulated)");
  EXPECT_FALSE(RecordFileReader::Open(dir_.Sub("map.out")).ok());  // blocks, no footer
  EXPECT_TRUE(RecordFileReader::Open(dir_.Sub("spill-0")).ok());
}

TEST_F(FaultSitesTest, RecordsWriterBeforeFooterAbortLeavesATornFile) {
  GTEST_FLAG_SET(death_test_style, "fast");  // the child writes into this test's directory
  ASSERT_TRUE(fault::Arm("records.writer.before_footer@/map.out=abort").ok());
  EXPECT_EXIT((void)WriteRecords(dir_.Sub("map.out")), ::testing::KilledBySignal(SIGKILL),
              "fault point records.writer.before_footer at .*/map.out: abort");
  EXPECT_TRUE(PathExists(dir_.Sub("map.out")));  // what of its blocks had left the write buffer
  EXPECT_FALSE(RecordFileReader::Open(dir_.Sub("map.out")).ok());
}

TEST_F(FaultSitesTest, NamenodeJournalSyncFailsTheMutationAndEveryLaterOne) {
  auto store = dfs::NamespaceStore::Open(dir_.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->Mkdirs("/a", 1).ok());
  const uint64_t txid = (*store)->last_txid() + 1;
  ASSERT_TRUE(fault::Arm("namenode.journal.sync=once:fail(fsync: I/O error (simulated))").ok());
  Status s = (*store)->Mkdirs("/b", 2);
  // The namenode goes read-only, naming the failure (docs/dfs.md).
  EXPECT_EQ(s.message(), "namenode journal unwritable: fault point namenode.journal.sync at " + std::to_string(txid) +
                             ": fsync: I/O error (simulated); the namespace is read-only until the namenode is restarted");
  EXPECT_FALSE((*store)->ns().Stat("/b").ok());  // not applied
  EXPECT_EQ((*store)->Mkdirs("/c", 3).message(), s.message());  // refused from then on
  store->reset();
  fault::Disarm();
  auto reopened = dfs::NamespaceStore::Open(dir_.path());
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_TRUE((*reopened)->ns().Stat("/a").ok());
  EXPECT_TRUE((*reopened)->Mkdirs("/c", 4).ok());
}

TEST_F(FaultSitesTest, DatanodeBlockFinalizeFailureDropsTheBlock) {
  auto store = dfs::BlockStore::Open(dir_.path(), {});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE(fault::Arm("datanode.block.finalize@7=fail(rename failed (simulated))").ok());
  for (uint64_t id : {7, 8}) {
    auto w = (*store)->CreateBlock(id, 1);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append("bytes").ok());
    auto info = (*w)->Finalize();
    if (id == 7) {
      EXPECT_EQ(info.status().message(),
                "finalizing block 7: fault point datanode.block.finalize at 7: rename failed (simulated)");
    } else {
      EXPECT_TRUE(info.ok()) << info.status().ToString();
    }
  }
  ASSERT_EQ((*store)->List().size(), 1u);
  EXPECT_EQ((*store)->List()[0].id, 8u);
  EXPECT_TRUE(ListDir(dir_.Sub("tmp"))->empty());
}

}  // namespace
}  // namespace sawmill
