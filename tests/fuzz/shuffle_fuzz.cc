// Fuzz target: what a shuffle server sends to a fetching worker. The input is the server's side of
// one conversation (frames, common/frame.h); FetchSegment (worker/shuffle_client.h) reads it from
// a scripted connection and writes a segment. Garbage must end in an error, never a crash or an
// unbounded allocation, and beyond that: an error leaves neither the segment nor its .tmp, and a
// success leaves a segment that opens and holds only the requested partition's blocks.
//
// Linked with mutation_driver.cc (g++ has no libFuzzer), which starts from FuzzSeeds().
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <deque>
#include <string>
#include <vector>

#include <capnp/message.h>

#include "common/capnp_util.h"
#include "common/file.h"
#include "common/frame.h"
#include "common/rpc.h"
#include "records/record_file.h"
#include "worker/shuffle.capnp.h"
#include "worker/shuffle_client.h"
#include "worker/shuffle_protocol.h"

namespace {

using namespace sawmill;
namespace proto = sawmill::worker::proto;

constexpr int32_t kPartition = 1;

// A private directory for the segment, removed at exit (the string is never destroyed, so the
// exit hook can still use it).
const std::string& Dir() {
  static const std::string* dir = [] {
    auto* d = new std::string("/tmp/shuffle_fuzz.XXXXXX");
    if (!::mkdtemp(d->data())) {
      std::perror("shuffle_fuzz: mkdtemp");
      std::abort();
    }
    std::atexit([] { (void)RemoveAll(Dir()); });
    return d;
  }();
  return *dir;
}

// Plays back recorded messages; requests are accepted and dropped.
class ScriptedConnection : public Connection {
 public:
  explicit ScriptedConnection(std::deque<Message> script) : script_(std::move(script)) {}
  Status Send(std::string_view, std::string_view) override { return Status::Ok(); }
  Status SendFile(std::string_view, int, uint64_t, uint64_t) override { return Status::Ok(); }
  Result<Message> Receive() override {
    if (script_.empty()) return Status(StatusCode::kUnavailable, "connection closed");
    Message m = std::move(script_.front());
    script_.pop_front();
    return m;
  }
  void Close() override { script_.clear(); }
  const std::string& peer() const override { return peer_; }

 private:
  std::deque<Message> script_;
  std::string peer_ = "fuzz-server";
};

// The frames of the input, as the transport would deliver them (oversized bodies refused).
std::deque<Message> Decode(std::string_view in) {
  std::deque<Message> out;
  FrameDecoder d;
  d.Feed(in);
  std::string header;
  while (true) {
    auto f = d.Next(&header);
    if (!f.ok() || !f->has_value()) break;
    if ((*f)->body_len > kMaxMessageBody) break;
    Message m{header, {}};
    while (d.body_remaining() > 0) {
      std::string_view piece = d.TakeBody(1 << 20);
      if (piece.empty()) return out;  // truncated body: the connection ends before this frame
      m.body.append(piece);
    }
    out.push_back(std::move(m));
  }
  return out;
}

void Check(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "shuffle_fuzz: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string dest = Dir() + "/segment";
  ScriptedConnection conn(Decode(std::string_view(reinterpret_cast<const char*>(data), size)));
  worker::FetchStats stats;
  Status s = worker::FetchSegment(conn, "job-1", "m-000001-a1", kPartition, dest, &stats);
  Check(!PathExists(dest + ".tmp"), "a .tmp was left behind");
  if (!s.ok()) {
    Check(!PathExists(dest), "an error left a segment");
    return 0;
  }
  auto r = RecordFileReader::Open(dest);
  Check(r.ok(), "a fetched segment does not open");
  auto [first, end] = (*r)->PartitionBlocks(kPartition);
  Check(first == 0 && end == (*r)->blocks().size(), "a segment holds another partition's blocks");
  Check((*r)->info().record_count == stats.records, "record count differs from the stats");
  (void)RemoveAll(dest);
  return 0;
}

// A real conversation: the announcement of partition 1 of a small map output, then its bytes in
// packets of 100 bytes; and a server error.
std::vector<std::string> FuzzSeeds() {
  std::vector<std::string> seeds;
  const std::string path = Dir() + "/map.out";
  RecordFileOptions options;
  options.block_bytes = 128;
  auto w = RecordFileWriter::Create(path, options);
  Check(w.ok(), "cannot write the seed map output");
  for (int32_t p = 0; p < 3; ++p) {
    Check((*w)->StartPartition(p).ok(), "seed partition");
    for (int i = 0; i < 20; ++i) {
      Check((*w)->Add("key" + std::to_string(p * 100 + i), std::string(i % 7 * 5, 'v')).ok(), "seed record");
    }
  }
  Check((*w)->Finish().ok(), "seed finish");
  std::string bytes;
  Check(ReadFileToString(path, &bytes).ok(), "seed read");
  auto reader = RecordFileReader::Open(path);
  Check(reader.ok(), "seed open");
  const PartitionExtent e = (*reader)->Extent(kPartition);

  std::string conversation;
  {
    capnp::MallocMessageBuilder m;
    worker::SetSegment(e, path, m.initRoot<proto::FetchResponse>().initSegment());
    EncodeFrame(CapnpToString(m), 0, &conversation);
  }
  uint64_t seqno = 0;
  for (uint64_t pos = 0; pos < e.length; pos += 100, ++seqno) {
    const uint64_t n = std::min<uint64_t>(100, e.length - pos);
    capnp::MallocMessageBuilder m;
    auto p = m.initRoot<proto::FetchResponse>().initPacket();
    p.setSeqno(seqno);
    p.setLast(pos + n == e.length);
    EncodeFrame(CapnpToString(m), n, &conversation);
    conversation.append(bytes, e.offset + pos, n);
  }
  seeds.push_back(conversation);
  {
    std::string error;
    capnp::MallocMessageBuilder m;
    auto r = m.initRoot<proto::FetchResponse>();
    worker::SetError(NotFound("no attempt m-000001-a1"), r.initError());
    r.setNone();
    EncodeFrame(CapnpToString(m), 0, &error);
    seeds.push_back(error);
  }
  return seeds;
}
