// DfsClient waiting out a namenode that cannot be reached (Options::reconnect): a restart in the
// middle of a file's write, and which requests are sent again after an answer was lost.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <random>
#include <thread>

#include "common/capnp_util.h"
#include "dfs/client/dfs_client.h"
#include "dfs/protocol.capnp.h"
#include "tests/common/wait_for.h"
#include "tests/dfs/client/fake_dfs.h"

namespace sawmill::dfs {
namespace {

using testing::FakeDatanode;
using testing::FakeNamenode;

std::string Bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// One request handed to a service as if it came over the wire; its answer goes nowhere.
class ReplayOnce : public Connection {
 public:
  explicit ReplayOnce(Message m) : m_(std::move(m)) {}
  Status Send(std::string_view header, std::string_view) override {
    answer_ = std::string(header);
    return Status::Ok();
  }
  Status SendFile(std::string_view, int, uint64_t, uint64_t) override { return Status::Ok(); }
  Result<Message> Receive() override {
    if (done_) return Status(StatusCode::kUnavailable, "connection closed");
    done_ = true;
    return std::move(m_);
  }
  void Close() override {}
  const std::string& peer() const override { return peer_; }
  const std::string& answer() const { return answer_; }

 private:
  Message m_;
  std::string answer_;
  bool done_ = false;
  std::string peer_ = "replay";
};

class DfsReconnectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<DatanodeDescriptor> infos;
    for (int i = 0; i < 2; ++i) {
      DatanodeDescriptor d;
      d.id = "dn" + std::to_string(i);
      d.host = "host-" + d.id;
      d.address = d.id + ":1";
      d.machine = "another-machine";
      d.live = true;
      infos.push_back(d);
      dns_.push_back(std::make_unique<FakeDatanode>(d, &net_));
      net_.Listen(d.address, dns_.back()->handler());
    }
    nn_ = std::make_unique<FakeNamenode>(infos);
    // Each conversation first meets the drops asked for: the request is read and the
    // connection closed unanswered, as by a namenode killed while it handles it.
    // Or the request is applied and then the answer lost: the namenode died after its journal
    // took the change.
    nn_listener_ = [this](Connection& c) {
      if (drops_.load() > 0) {
        --drops_;
        if (c.Receive().ok()) ++dropped_;
        return;
      }
      if (applies_.load() > 0) {
        --applies_;
        auto m = c.Receive();
        if (!m.ok()) return;
        ++dropped_;
        ReplayOnce replay(std::move(m).value());
        nn_->handler()(replay);
        return;
      }
      // Or addBlock is answered as by a namenode that has not heard from any datanode yet.
      while (true) {
        auto m = c.Receive();
        if (!m.ok()) return;
        bool refuse = false;
        auto parsed = CapnpReader::Parse(m->header);
        if (parsed.ok() && (*parsed)->Root<proto::NamenodeRequest>().isAddBlock() &&
            refusals_.load() > 0) {
          --refusals_;
          refuse = true;
        }
        if (refuse) {
          capnp::MallocMessageBuilder out;
          SetErrorFromStatus(
              Status(StatusCode::kUnavailable, "no live datanode has room for a block"),
              out.initRoot<proto::NamenodeResponse>().initError());
          if (!c.Send(CapnpToString(out)).ok()) return;
          continue;
        }
        ReplayOnce forward(std::move(m).value());
        nn_->handler()(forward);
        if (!c.Send(forward.answer()).ok()) return;
      }
    };
    net_.Listen("nn:1", nn_listener_);
    DfsClient::Options& o = options_;
    o.packet_bytes = 16;
    o.reconnect.budget_ms = 10000;
    o.reconnect.first_pause_ms = 5;
    o.reconnect.max_pause_ms = 40;
    o.no_datanode_wait_ms = 2000;
    o.reconnect.notify = [this](const std::string& line) {
      std::lock_guard<std::mutex> l(notices_mu_);
      notices_.push_back(line);
    };
    client_ = std::make_unique<DfsClient>(&net_, "nn:1", o);
  }

  std::vector<std::string> Notices() {
    std::lock_guard<std::mutex> l(notices_mu_);
    return notices_;
  }

  std::vector<std::unique_ptr<FakeDatanode>> dns_;
  std::unique_ptr<FakeNamenode> nn_;
  std::function<void(Connection&)> nn_listener_;  // the namenode with the drops below
  std::atomic<int> drops_{0}, applies_{0}, dropped_{0}, refusals_{0};
  std::mutex notices_mu_;
  std::vector<std::string> notices_;
  InProcessNetwork net_;  // after the fakes: destroyed (joining their threads) before them
  DfsClient::Options options_;
  std::unique_ptr<DfsClient> client_;
};

TEST_F(DfsReconnectTest, AWriteGoesOnAcrossANamenodeRestart) {
  const std::string data = Bytes(1000, 7);  // 16 blocks of 64 bytes: addBlock calls on both sides
  auto w = client_->Create("/out/part-00000");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE((*w)->Append(std::string_view(data).substr(0, 400)).ok());
  // The namenode dies; it comes back (with its namespace, as from its journal) once the
  // client has started waiting for it.
  net_.Stop("nn:1");
  std::thread restart([&] {
    ASSERT_TRUE(sawmill::testing::WaitFor([&] { return !Notices().empty(); }));
    net_.Listen("nn:1", nn_->handler());
  });
  Status appended = (*w)->Append(std::string_view(data).substr(400));
  Status closed = appended.ok() ? (*w)->Close() : appended;
  restart.join();
  ASSERT_TRUE(closed.ok()) << closed.ToString();
  auto r = client_->OpenRead("/out/part-00000");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::string back(data.size(), '\0');
  ASSERT_TRUE((*r)->ReadAt(0, back.size(), back.data()).ok());
  EXPECT_EQ(back, data);
  auto notices = Notices();
  ASSERT_EQ(notices.size(), 2u) << ::testing::PrintToString(notices);
  EXPECT_NE(notices[0].find("namenode nn:1 unreachable ("), std::string::npos) << notices[0];
  EXPECT_NE(notices[1].find("namenode nn:1 is back after"), std::string::npos) << notices[1];
}

// (The drops meet the client's first conversations: it has none open yet.)
TEST_F(DfsReconnectTest, AReadWhoseAnswerWasLostIsAskedAgain) {
  drops_ = 2;
  auto listed = client_->List("/");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(dropped_.load(), 2);
}

TEST_F(DfsReconnectTest, AWritersRequestsWhoseAnswersWereLostAreSentAgainAndAnsweredAsTheFirst) {
  const std::string data = Bytes(300, 9);  // 5 blocks of 64 bytes
  // Applied, then the answer lost: the client sends the create again, and the namenode finds
  // it a repeat (its own file, no block yet).
  applies_ = 1;
  auto w = client_->Create("/d/f");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(dropped_.load(), 1);
  // The namenode dies mid-write, after applying an addBlock or the complete: each is sent again.
  ASSERT_TRUE((*w)->Append(std::string_view(data).substr(0, 100)).ok());
  net_.Stop("nn:1");
  applies_ = 1;
  std::thread restart([&] {
    ASSERT_TRUE(sawmill::testing::WaitFor([&] { return !Notices().empty(); }));
    net_.Listen("nn:1", nn_listener_);
  });
  Status appended = (*w)->Append(std::string_view(data).substr(100));
  Status closed = appended.ok() ? (*w)->Close() : appended;
  restart.join();
  ASSERT_TRUE(closed.ok()) << closed.ToString();
  EXPECT_EQ(dropped_.load(), 2);
  auto r = client_->OpenRead("/d/f");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::string back(data.size(), '\0');
  ASSERT_TRUE((*r)->ReadAt(0, back.size(), back.data()).ok());
  EXPECT_EQ(back, data);
  std::lock_guard<std::mutex> l(nn_->mu());
  EXPECT_EQ(nn_->files.at("/d/f").blocks.size(), 5u);
  EXPECT_EQ(nn_->repeats, 2);
}

// Written with a client of its own, so that the client under test has no conversation open.
void PutFile(InProcessNetwork* net, const std::string& path) {
  DfsClient::Options o;
  o.packet_bytes = 16;
  DfsClient writer(net, "nn:1", o);
  auto w = writer.Create(path);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE((*w)->Append("some bytes").ok());
  ASSERT_TRUE((*w)->Close().ok());
}

// Applied before the answer was lost (read back as done) or not (sent again): moved once either
// way.
TEST_F(DfsReconnectTest, ARenameWhoseAnswerWasLostIsReadBackAndEndsMovedOnce) {
  for (bool applied : {true, false}) {
    SCOPED_TRACE(applied ? "applied" : "not applied");
    const std::string src = std::string("/staging/part-") + (applied ? "a" : "n");
    const std::string dst = std::string("/out/part-") + (applied ? "a" : "n");
    PutFile(&net_, src);
    DfsClient client(&net_, "nn:1", options_);  // a fresh conversation for the lost answer
    (applied ? applies_ : drops_) = 1;
    Status s = client.Rename(src, dst);
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::lock_guard<std::mutex> l(nn_->mu());
    EXPECT_EQ(nn_->files.count(src), 0u);
    EXPECT_EQ(nn_->files.count(dst), 1u);
  }
  EXPECT_EQ(dropped_.load(), 2);
}

TEST_F(DfsReconnectTest, ADeleteAppliedOrNotWhoseAnswerWasLostEndsWithThePathGone) {
  PutFile(&net_, "/a");
  PutFile(&net_, "/b");
  applies_ = 1;
  Status applied = client_->Delete("/a", false);
  EXPECT_TRUE(applied.ok()) << applied.ToString();
  DfsClient second(&net_, "nn:1", options_);  // a fresh conversation for the drop
  drops_ = 1;
  Status dropped = second.Delete("/b", false);
  EXPECT_TRUE(dropped.ok()) << dropped.ToString();
  std::lock_guard<std::mutex> l(nn_->mu());
  EXPECT_EQ(nn_->files.count("/a") + nn_->files.count("/b"), 0u);
}

TEST_F(DfsReconnectTest, ANewBlockWaitsForTheDatanodesOfARestartedNamenode) {
  refusals_ = 3;
  const std::string data = Bytes(200, 3);
  auto w = client_->Create("/f");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE((*w)->Append(data).ok());
  Status closed = (*w)->Close();
  ASSERT_TRUE(closed.ok()) << closed.ToString();
  EXPECT_EQ(refusals_.load(), 0);
  std::lock_guard<std::mutex> l(nn_->mu());
  EXPECT_TRUE(nn_->files.at("/f").complete);
}

// The wait for datanodes starts at the first "no live datanode" answer: an outage longer than
// the wait, spent reaching the namenode, does not use it up (chaos seed 20261261).
TEST_F(DfsReconnectTest, TheWaitForDatanodesStartsWhenTheRestartedNamenodeAnswers) {
  DfsClient::Options o = options_;
  o.no_datanode_wait_ms = 400;
  DfsClient client(&net_, "nn:1", o);
  auto w = client.Create("/f");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  net_.Stop("nn:1");
  refusals_ = 2;  // 50 + 100 ms of pauses: within the wait
  std::thread restart([&] {
    ASSERT_TRUE(sawmill::testing::WaitFor([&] { return !Notices().empty(); }));
    std::this_thread::sleep_for(std::chrono::milliseconds(600));  // the outage being modelled
    net_.Listen("nn:1", nn_listener_);
  });
  Status s = (*w)->Append(Bytes(200, 3));
  if (s.ok()) s = (*w)->Close();
  restart.join();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(refusals_.load(), 0);
}

TEST_F(DfsReconnectTest, NoDatanodeForLongerThanTheWaitFailsTheWrite) {
  refusals_ = 1 << 30;
  const auto t0 = std::chrono::steady_clock::now();
  auto w = client_->Create("/f");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  Status s = (*w)->Append(Bytes(200, 3));
  if (s.ok()) s = (*w)->Close();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no live datanode"), std::string::npos) << s.ToString();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(2000));
}

}  // namespace
}  // namespace sawmill::dfs
