// Fuzz target: bytes arriving on a daemon's port. Frames are decoded (in pieces whose sizes the
// input chooses) and every header is decoded as a Cap'n Proto message of each schema a daemon
// reads. Garbage must end in an error, never a crash or an unbounded allocation.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include "common/frame.h"
#include "dfs/namenode/namespace.capnp.h"

namespace {

void DecodeMessages(const std::string& header) {
  if (header.size() % sizeof(capnp::word) != 0) return;  // the real decoder rejects it the same way
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(header.size() / sizeof(capnp::word));
  if (!header.empty()) std::memcpy(words.begin(), header.data(), header.size());
  (void)kj::runCatchingExceptions([&] {
    capnp::ReaderOptions limits;
    limits.traversalLimitInWords = 1 << 20;
    capnp::FlatArrayMessageReader reader(words, limits);
    auto r = reader.getRoot<sawmill::dfs::schema::JournalRecord>();
    (void)r.getTxid();
    if (r.isRename()) (void)r.getRename().getSrc().size();
    if (r.isComplete()) (void)r.getComplete().getBlockLengths().size();
    auto img = reader.getRoot<sawmill::dfs::schema::Image>();
    for (auto inode : img.getInodes()) (void)inode.getPath().size();
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  size_t piece = in.empty() ? 1 : 1 + static_cast<unsigned char>(in[0]) % 64;
  sawmill::FrameDecoder d;
  std::string header;
  for (size_t fed = 0; fed < in.size(); fed += piece) {
    d.Feed(std::string_view(in).substr(fed, piece));
    while (true) {
      if (d.body_remaining() > 0) {
        if (d.TakeBody(1 << 20).empty()) break;
        continue;
      }
      auto f = d.Next(&header);
      if (!f.ok()) return 0;  // connection closed
      if (!f->has_value()) break;
      DecodeMessages(header);
    }
  }
  return 0;
}

std::vector<std::string> FuzzSeeds() {
  std::vector<std::string> seeds;
  capnp::MallocMessageBuilder msg;
  auto rec = msg.initRoot<sawmill::dfs::schema::JournalRecord>();
  rec.setTxid(7);
  auto rn = rec.initRename();
  rn.setSrc("/a/b");
  rn.setDst("/c");
  auto words = capnp::messageToFlatArray(msg);
  std::string header(words.asChars().begin(), words.asChars().size());
  std::string s;
  sawmill::EncodeFrame(header, 5, &s);
  s += "hello";
  sawmill::EncodeFrame("", 0, &s);
  seeds.push_back(s);
  seeds.push_back(std::string(1, '\x10') + s);
  return seeds;
}
