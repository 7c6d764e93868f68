// The namenode answers heartbeats while it writes a checkpoint: with a namespace whose
// synchronous checkpoint takes clearly long (300 k files), a datanode heartbeating in a loop
// through the service's handler waits far less than that for its longest answer while the
// service's Tick writes the checkpoint in the background.
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <functional>
#include <thread>

#include <capnp/message.h>
#include <gtest/gtest.h>

#include "common/capnp_util.h"
#include "common/file.h"
#include "dfs/namenode/checkpoint.h"
#include "dfs/namenode/namenode_service.h"
#include "dfs/proto_convert.h"
#include "tests/common/temp_dir.h"

namespace sawmill::dfs {
namespace {

using sawmill::testing::TempDir;
using Req = proto::NamenodeRequest;
using Resp = proto::NamenodeResponse;

constexpr char kAddress[] = "namenode:1";

double Seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Status Call(Connection& conn, const std::function<void(Req::Builder)>& fill) {
  capnp::MallocMessageBuilder msg;
  fill(msg.initRoot<Req>());
  RETURN_IF_ERROR(conn.Send(CapnpToString(msg)));
  ASSIGN_OR_RETURN(auto got, conn.Receive());
  ASSIGN_OR_RETURN(auto reader, CapnpReader::Parse(got.header));
  return ToStatus(reader->Root<Resp>().getError());
}

std::string CheckpointName(uint64_t txid) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "checkpoint.%020" PRIu64, txid);
  return buf;
}

TEST(CheckpointLatency, HeartbeatsAreAnsweredWhileACheckpointIsWritten) {
  TempDir dir("/dev/shm");
  constexpr int kFiles = 300'000, kDirs = 300;
  constexpr uint64_t kImageTxid = 1000;
  double sync_s = 0;
  {
    // Built in memory and written as the store's image: journaling 300 k files would be slow.
    Namespace ns;
    for (int d = 0; d < kDirs; ++d) ASSERT_TRUE(ns.Mkdirs("/d" + std::to_string(d), 1).ok());
    for (int i = 0; i < kFiles; ++i) {
      const std::string path = "/d" + std::to_string(i % kDirs) + "/f" + std::to_string(i);
      ASSERT_TRUE(ns.Create(path, "c", 3, 1 << 20, 1).ok());
      ASSERT_TRUE(ns.AddBlock(path, "c", ns.next_block_id(), 1).ok());
      ASSERT_TRUE(ns.Complete(path, "c", {1 << 20}, 1).ok());
    }
    // What a checkpoint under the lock costs: the same WriteCheckpoint the synchronous path runs.
    const double t = Seconds();
    ASSERT_TRUE(WriteCheckpoint(dir.Sub(CheckpointName(kImageTxid)), ns, kImageTxid).ok());
    sync_s = Seconds() - t;
  }

  NamenodeService::Options options;
  options.checkpoint_every = 1;
  options.safe_mode_grace_ms = 0;
  options.replication_interval_ms = 1'000'000'000;
  std::atomic<int64_t> now{1'000'000};
  options.clock = [&] { return now.load(); };
  auto service = NamenodeService::Open(dir.path(), options);
  ASSERT_TRUE(service.ok()) << service.status().ToString();
  InProcessNetwork net;
  net.Listen(kAddress, (*service)->handler());
  auto datanode = net.Connect(kAddress);
  auto client = net.Connect(kAddress);
  ASSERT_TRUE(datanode.ok() && client.ok());
  ASSERT_TRUE(Call(**datanode, [](Req::Builder r) {
                auto info = r.initRegister().initDatanode();
                info.setId("dn1");
                info.setHost("h1");
                info.setAddress("dn1:1");
                info.setMachine("m");
                info.setCapacityBytes(1ull << 40);
              }).ok());
  (*service)->Tick();  // leaves safe mode and runs its replication round before the measurement
  ASSERT_TRUE(Call(**client, [](Req::Builder r) { r.setMkdirs("/new"); }).ok());  // one record to checkpoint

  std::atomic<bool> done{false};
  std::atomic<int> beats{0};
  std::atomic<double> longest{0};
  std::thread heartbeats([&] {
    while (!done.load()) {
      const double t = Seconds();
      Status st = Call(**datanode, [](Req::Builder r) {
        auto h = r.initHeartbeat();
        h.setId("dn1");
        h.setCapacityBytes(1ull << 40);
      });
      const double took = Seconds() - t;
      EXPECT_TRUE(st.ok()) << st.ToString();
      if (took > longest.load()) longest = took;
      ++beats;
    }
  });
  while (beats.load() < 10) std::this_thread::yield();  // heartbeating before the checkpoint starts
  const double start = Seconds();
  (*service)->Tick();  // forks the writer
  const double fork_s = Seconds() - start;
  const std::string image = dir.Sub(CheckpointName(kImageTxid + 1));
  const int beats_before = beats.load();
  while (!PathExists(image) && Seconds() - start < 30) {
    (*service)->Tick();  // installs the image once the child has exited
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const double background_s = Seconds() - start;
  const int beats_during = beats.load() - beats_before;
  done = true;
  heartbeats.join();
  std::printf("synchronous checkpoint %.3f s; background: Tick forked in %.4f s, image in place after %.3f s; "
              "%d heartbeats meanwhile, the longest %.4f s\n",
              sync_s, fork_s, background_s, beats_during, longest.load());
  ASSERT_TRUE(PathExists(image)) << "no background checkpoint within 30 s";
  EXPECT_GT(sync_s, 0.1) << "the namespace is too small to tell";
  EXPECT_GT(beats_during, 10);
  // Held behind the lock for a whole checkpoint, a heartbeat would wait about sync_s (with
  // background_checkpoint = false the longest is 0.75 of it).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // Instrumented, the parent stalls for most of a second at times while the child writes (0.54
  // and 0.84 s of a 2.2 s checkpoint in two fresh-clone CI runs on 2 cores): the bound is the
  // Release build's; here the checkpoint runs in the background while heartbeats go on.
#else
  EXPECT_LT(longest.load(), sync_s / 3);
#endif
  datanode->reset();
  client->reset();
}

}  // namespace
}  // namespace sawmill::dfs
