#include "logs/ingest_ledger.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <tuple>

#include <capnp/message.h>

#include "common/capnp_util.h"
#include "common/checksum.h"
#include "common/file.h"
#include "common/local_fs.h"
#include "logs/ingest_ledger.capnp.h"

namespace sawmill::logs {

std::string LedgerName(uint64_t first_offset) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%020llu.ledger", static_cast<unsigned long long>(first_offset));
  return buf;
}

std::string EncodeLedger(const Ledger& ledger) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<schema::IngestLedger>();
  auto list = root.initSources(static_cast<unsigned>(ledger.sources.size()));
  for (size_t i = 0; i < ledger.sources.size(); ++i) {
    const LedgerSource& s = ledger.sources[i];
    auto b = list[static_cast<unsigned>(i)];
    b.setPath(s.path);
    b.setDevice(s.device);
    b.setInode(s.inode);
    b.setSize(s.size);
    b.setHeadLength(s.head_length);
    b.setHeadHash(s.head_hash);
    b.setConsumed(s.consumed);
    b.setLines(s.lines);
    b.setAppendedMs(s.appended_ms);
  }
  return CapnpToString(message);
}

Result<Ledger> DecodeLedger(std::string_view bytes, const std::string& name) {
  auto bad = [&](const Status& why) { return Corruption(name + ": not an ingestion ledger: " + why.message()); };
  auto reader = CapnpReader::Parse(bytes);
  if (!reader.ok()) return bad(reader.status());
  Ledger out;
  Status st = CatchCapnp("ledger", [&] {
    for (auto s : (*reader)->Root<schema::IngestLedger>().getSources()) {
      LedgerSource e;
      e.path = Text(s.getPath());
      e.device = s.getDevice();
      e.inode = s.getInode();
      e.size = s.getSize();
      e.head_length = s.getHeadLength();
      e.head_hash = s.getHeadHash();
      e.consumed = s.getConsumed();
      e.lines = s.getLines();
      e.appended_ms = s.getAppendedMs();
      if (e.head_length == 0 || e.head_length > kLedgerHeadBytes || e.head_length > e.consumed) {
        return InvalidArgument("a source with a bad head length");
      }
      out.sources.push_back(std::move(e));
    }
    return Status::Ok();
  });
  if (!st.ok()) return bad(st);
  return out;
}

int MatchSource(const Ledger& ledger, const SourceFile& file) {
  int best = -1;
  auto rank = [&](const LedgerSource& s) {
    bool same_file = file.inode != 0 && s.device == file.device && s.inode == file.inode;
    return std::make_tuple(same_file, s.head_length, s.consumed);
  };
  for (size_t i = 0; i < ledger.sources.size(); ++i) {
    const LedgerSource& s = ledger.sources[i];
    if (s.head_length == 0 || s.head_length > file.head.size()) continue;
    if (Checksum64(file.head.data(), s.head_length) != s.head_hash) continue;
    if (best < 0 || rank(s) > rank(ledger.sources[static_cast<size_t>(best)])) best = static_cast<int>(i);
  }
  return best;
}

int RecordProgress(Ledger* ledger, int index, const SourceFile& file, uint64_t consumed, uint64_t lines,
                   int64_t now_ms) {
  if (index < 0) {
    ledger->sources.emplace_back();
    index = static_cast<int>(ledger->sources.size() - 1);
  }
  LedgerSource& s = ledger->sources[static_cast<size_t>(index)];
  s.path = file.path;
  s.device = file.device;
  s.inode = file.inode;
  s.size = file.size;
  s.head_length = static_cast<uint32_t>(std::min<uint64_t>({consumed, kLedgerHeadBytes, file.head.size()}));
  s.head_hash = Checksum64(file.head.data(), s.head_length);
  if (consumed > s.consumed) s.appended_ms = now_ms;
  s.consumed = consumed;
  s.lines = lines;
  return index;
}

Result<Ledger> ReadPartitionLedger(const std::string& dir, const std::vector<uint64_t>& segment_firsts) {
  ASSIGN_OR_RETURN(ResolvedPath r, ResolvePath(dir));
  ASSIGN_OR_RETURN(bool exists, FsExists(dir));
  if (!exists) return Ledger{};
  ASSIGN_OR_RETURN(auto entries, r.fs->List(r.path));
  std::set<std::string> names;
  for (const auto& e : entries) names.insert(Basename(e.path));
  for (auto it = segment_firsts.rbegin(); it != segment_firsts.rend(); ++it) {
    std::string name = LedgerName(*it);
    if (!names.count(name)) continue;
    std::string path = JoinPath(dir, name), bytes;
    RETURN_IF_ERROR(FsReadFile(path, &bytes));
    return DecodeLedger(bytes, path);
  }
  return Ledger{};
}

}  // namespace sawmill::logs
