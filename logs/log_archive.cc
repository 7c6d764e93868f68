#include "logs/log_archive.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

#include "common/file.h"
#include "common/local_fs.h"
#include "logs/ingest_ledger.h"
#include "logs/log_formats.h"
#include "records/record_file.h"

namespace sawmill::logs {
namespace {

constexpr uint64_t kChunkRecords = 4096;  // records per time-index entry

uint64_t LoadBigEndian(std::string_view s) {
  uint64_t v;
  std::memcpy(&v, s.data(), 8);
  return __builtin_bswap64(v);
}

std::string SegmentName(uint64_t first_offset, const char* ext) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%020llu%s", static_cast<unsigned long long>(first_offset), ext);
  return buf;
}

// "<20 digits>.seg" -> the offset; false for other names (temp files start with '.').
bool ParseSegmentName(const std::string& name, uint64_t* first) {
  if (name.size() != 24 || name.compare(20, 4, ".seg") != 0) return false;
  uint64_t v = 0;
  for (int i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    v = v * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  *first = v;
  return true;
}

Result<std::vector<std::string>> ListNames(const std::string& dir) {
  ASSIGN_OR_RETURN(ResolvedPath r, ResolvePath(dir));
  auto exists = FsExists(dir);
  if (!exists.ok()) return exists.status();
  if (!*exists) return std::vector<std::string>{};
  ASSIGN_OR_RETURN(auto entries, r.fs->List(r.path));
  std::vector<std::string> names;
  for (const auto& e : entries) names.push_back(Basename(e.path));
  std::sort(names.begin(), names.end());
  return names;
}

// A segment being written: its records, and one time-index entry per chunk.
class SegmentWriter {
 public:
  static Result<std::unique_ptr<SegmentWriter>> Create(const std::string& dir, uint64_t first, size_t block_bytes) {
    auto w = std::unique_ptr<SegmentWriter>(new SegmentWriter);
    w->dir_ = dir;
    w->first_ = first;
    w->tmp_ = JoinPath(dir, ".tmp-" + std::to_string(::getpid()) + "-" + SegmentName(first, ".seg"));
    RecordFileOptions o;
    o.block_bytes = block_bytes;
    o.sorted = true;
    ASSIGN_OR_RETURN(w->file_, RecordFileWriter::Create(w->tmp_, o));
    return w;
  }
  Status Add(const LogRecord& r) {
    if (count_ % kChunkRecords == 0) chunks_.push_back({r.offset, r.timestamp_ms, r.timestamp_ms});
    Chunk& c = chunks_.back();
    c.min = std::min(c.min, r.timestamp_ms);
    c.max = std::max(c.max, r.timestamp_ms);
    ++count_;
    payload_bytes_ += r.payload.size();
    return file_->Add(EncodeOffset(r.offset), EncodeLogValue(r.timestamp_ms, r.payload));
  }
  uint64_t payload_bytes() const { return payload_bytes_; }
  void SetLedger(std::string ledger) { ledger_ = std::move(ledger); }
  Status Finish() { return file_->Finish(); }
  // Writes the time index (and the ledger), then renames the segment into place, never over
  // another one. Sidecars of the same name are leftovers of a run that died before its segment's
  // rename: the partition's lock keeps a live run from writing them at the same time.
  Result<std::string> Commit() {
    std::string index;
    if (!ledger_.empty()) {
      std::string ledger_tmp = tmp_ + ".ledger", ledger = JoinPath(dir_, LedgerName(first_));
      RETURN_IF_ERROR(FsWriteFile(ledger_tmp, ledger_));
      (void)FsRemoveAll(ledger);
      RETURN_IF_ERROR(FsRename(ledger_tmp, ledger));
    }
    {
      std::string tidx_tmp = tmp_ + ".tidx";
      RecordFileOptions o;
      o.sorted = true;
      ASSIGN_OR_RETURN(auto w, RecordFileWriter::Create(tidx_tmp, o));
      for (const Chunk& c : chunks_) {
        RETURN_IF_ERROR(w->Add(EncodeOffset(c.first), EncodeOffset(static_cast<uint64_t>(c.min) ^ (1ull << 63)) +
                                                          EncodeOffset(static_cast<uint64_t>(c.max) ^ (1ull << 63))));
      }
      RETURN_IF_ERROR(w->Finish());
      index = JoinPath(dir_, SegmentName(first_, ".tidx"));
      (void)FsRemoveAll(index);  // a leftover of an archive that died before its segment's rename
      RETURN_IF_ERROR(FsRename(tidx_tmp, index));
    }
    std::string final_path = JoinPath(dir_, SegmentName(first_, ".seg"));
    Status s = FsRename(tmp_, final_path);
    if (!s.ok()) {
      return AlreadyExists("segment " + final_path + " appeared while archiving (another archive run?): " +
                                s.message());
    }
    return final_path;
  }
  void Abandon() {
    (void)FsRemoveAll(tmp_);
    (void)FsRemoveAll(tmp_ + ".ledger");
  }

 private:
  struct Chunk {
    uint64_t first;
    int64_t min, max;
  };
  std::string dir_, tmp_, ledger_;
  uint64_t first_ = 0, count_ = 0, payload_bytes_ = 0;
  std::unique_ptr<RecordFileWriter> file_;
  std::vector<Chunk> chunks_;
};

// Reads archived records in offset order from a given offset on, across segments.
class ArchivedReader {
 public:
  explicit ArchivedReader(const std::vector<SegmentInfo>& segments) : segments_(segments) {}
  // The archived record at `offset` (offsets are asked for in increasing order).
  Status Get(uint64_t offset, int64_t* ts, std::string_view* payload, std::string* segment) {
    while (index_ < segments_.size() && segments_[index_].last_offset < offset) {
      ++index_;
      it_.reset();
    }
    if (index_ == segments_.size()) return Internal("offset " + std::to_string(offset) + " is not archived");
    const SegmentInfo& s = segments_[index_];
    *segment = s.path;
    if (!it_) {
      ASSIGN_OR_RETURN(reader_, RecordFileReader::Open(s.path));
      it_ = std::make_unique<RecordIterator>(reader_->NewIterator());
      RETURN_IF_ERROR(it_->Seek(EncodeOffset(offset)));
    }
    uint64_t got = 0;
    while (true) {
      if (!it_->Next()) {
        RETURN_IF_ERROR(it_->status());
        return Corruption(s.path + ": ends before offset " + std::to_string(offset));
      }
      if (!DecodeLogRecord(it_->key(), it_->value(), &got, ts, payload)) {
        return Corruption(s.path + ": a record that is not a log record");
      }
      if (got >= offset) break;
    }
    if (got != offset) return Corruption(s.path + ": offset " + std::to_string(offset) + " is missing");
    return Status::Ok();
  }

 private:
  const std::vector<SegmentInfo>& segments_;
  size_t index_ = 0;
  std::unique_ptr<RecordFileReader> reader_;
  std::unique_ptr<RecordIterator> it_;
};

}  // namespace

std::string EncodeOffset(uint64_t offset) {
  uint64_t be = __builtin_bswap64(offset);
  return std::string(reinterpret_cast<const char*>(&be), 8);
}

std::string EncodeLogValue(int64_t timestamp_ms, std::string_view payload) {
  std::string v = EncodeOffset(static_cast<uint64_t>(timestamp_ms) ^ (1ull << 63));
  v.append(payload);
  return v;
}

bool DecodeLogRecord(std::string_view key, std::string_view value, uint64_t* offset, int64_t* timestamp_ms,
                     std::string_view* payload) {
  if (key.size() != 8 || value.size() < 8) return false;
  *offset = LoadBigEndian(key);
  *timestamp_ms = static_cast<int64_t>(LoadBigEndian(value) ^ (1ull << 63));
  *payload = value.substr(8);
  return true;
}

std::string PartitionDir(const std::string& root, const std::string& stream, int partition) {
  return JoinPath(JoinPath(JoinPath(root, "logs"), stream), std::to_string(partition));
}

Status ValidateStream(const std::string& stream, int partition) {
  bool ok = !stream.empty() && stream[0] != '.' && stream.size() <= 200;
  for (char c : stream) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-');
  if (!ok) return InvalidArgument("bad stream name '" + stream + "' (letters, digits, _ . - ; not starting with .)");
  if (partition < 0) return InvalidArgument("bad partition " + std::to_string(partition) + " (want >= 0)");
  return Status::Ok();
}

Result<std::vector<SegmentInfo>> ListSegments(const std::string& root, const std::string& stream, int partition) {
  RETURN_IF_ERROR(ValidateStream(stream, partition));
  std::string dir = PartitionDir(root, stream, partition);
  ASSIGN_OR_RETURN(auto names, ListNames(dir));
  std::vector<SegmentInfo> out;
  for (const auto& n : names) {
    uint64_t first;
    if (!ParseSegmentName(n, &first)) continue;
    SegmentInfo s;
    s.path = JoinPath(dir, n);
    ASSIGN_OR_RETURN(auto reader, RecordFileReader::Open(s.path));
    s.records = reader->info().record_count;
    s.first_offset = first;
    s.last_offset = first + s.records - 1;
    ASSIGN_OR_RETURN(ResolvedPath r, ResolvePath(s.path));
    ASSIGN_OR_RETURN(FileInfo info, r.fs->Stat(r.path));
    s.bytes = info.size;
    s.min_time_ms = std::numeric_limits<int64_t>::max();
    s.max_time_ms = std::numeric_limits<int64_t>::min();
    auto index = RecordFileReader::Open(JoinPath(dir, SegmentName(first, ".tidx")));
    if (!index.ok()) return Corruption(s.path + ": no readable time index: " + index.status().message());
    RecordIterator it = (*index)->NewIterator();
    while (it.Next()) {
      if (it.value().size() != 16) return Corruption(s.path + ": malformed time index");
      s.min_time_ms = std::min(s.min_time_ms, static_cast<int64_t>(LoadBigEndian(it.value()) ^ (1ull << 63)));
      s.max_time_ms = std::max(s.max_time_ms, static_cast<int64_t>(LoadBigEndian(it.value().substr(8)) ^ (1ull << 63)));
    }
    RETURN_IF_ERROR(it.status());
    if (!out.empty() && out.back().last_offset + 1 != s.first_offset) {
      return Corruption(dir + ": segment " + n + " does not follow " + Basename(out.back().path));
    }
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::vector<std::string>> ListStreams(const std::string& root) {
  ASSIGN_OR_RETURN(auto names, ListNames(JoinPath(root, "logs")));
  std::vector<std::string> out;
  for (const auto& n : names) {
    if (ValidateStream(n, 0).ok()) out.push_back(n);
  }
  return out;
}

Result<std::vector<int>> ListPartitions(const std::string& root, const std::string& stream) {
  RETURN_IF_ERROR(ValidateStream(stream, 0));
  ASSIGN_OR_RETURN(auto names, ListNames(JoinPath(JoinPath(root, "logs"), stream)));
  std::vector<int> out;
  for (const auto& n : names) {
    if (!n.empty() && n.size() < 10 && n.find_first_not_of("0123456789") == std::string::npos) out.push_back(std::stoi(n));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<ArchiveResult> Archive(const std::string& root, const std::string& stream, int partition,
                              const std::function<bool(LogRecord* record, Status* error)>& next,
                              const ArchiveOptions& options) {
  ASSIGN_OR_RETURN(auto lock, LockPartition(root, stream, partition));
  ASSIGN_OR_RETURN(auto segments, ListSegments(root, stream, partition));
  return ArchiveLocked(root, stream, partition, segments, next, options);
}

Result<ArchiveResult> ArchiveLocked(const std::string& root, const std::string& stream, int partition,
                                    const std::vector<SegmentInfo>& segments,
                                    const std::function<bool(LogRecord* record, Status* error)>& next,
                                    const ArchiveOptions& options) {
  std::string dir = PartitionDir(root, stream, partition);
  const bool have = !segments.empty();
  const uint64_t first_archived = have ? segments.front().first_offset : 0;
  const uint64_t next_new = have ? segments.back().last_offset + 1 : 0;
  ArchivedReader archived(segments);
  ArchiveResult result;
  std::vector<std::unique_ptr<SegmentWriter>> written;
  auto abandon = [&](Status s) -> Status {
    for (auto& w : written) w->Abandon();
    return s;
  };

  LogRecord r;
  Status input;
  uint64_t expect = 0;
  bool first = true;
  while (next(&r, &input)) {
    if (first) {
      if (have && r.offset < first_archived) {
        return InvalidArgument("offset " + std::to_string(r.offset) + " precedes the archive's first offset " +
                                  std::to_string(first_archived) + " in " + dir);
      }
      if (have && r.offset > next_new) {
        return InvalidArgument("gap: " + dir + " holds offsets up to " + std::to_string(next_new - 1) +
                                  ", the input starts at " + std::to_string(r.offset));
      }
      first = false;
    } else if (r.offset != expect) {
      return abandon(InvalidArgument("offsets must be consecutive: " + std::to_string(r.offset) + " follows " +
                                     std::to_string(expect - 1)));
    }
    expect = r.offset + 1;
    if (have && r.offset < next_new) {
      int64_t ts = 0;
      std::string_view payload;
      std::string segment;
      RETURN_IF_ERROR(archived.Get(r.offset, &ts, &payload, &segment));
      if (ts != r.timestamp_ms || payload != r.payload) {
        return InvalidArgument("conflict: offset " + std::to_string(r.offset) + " is archived in " + segment +
                                  " with a different " + (ts != r.timestamp_ms ? "timestamp" : "payload") +
                                  "; archived records never change");
      }
      ++result.already_archived;
      continue;
    }
    if (written.empty() || written.back()->payload_bytes() >= options.segment_bytes) {
      if (written.empty()) {
        Status s = FsMkdirs(dir);
        if (!s.ok()) return s;
      } else {
        Status s = written.back()->Finish();
        if (!s.ok()) return abandon(s);
      }
      auto w = SegmentWriter::Create(dir, r.offset, options.block_bytes);
      if (!w.ok()) return abandon(w.status());
      written.push_back(std::move(w).value());
    }
    Status s = written.back()->Add(r);
    if (!s.ok()) return abandon(s);
    ++result.appended;
    if (options.segment_ledger && written.back()->payload_bytes() >= options.segment_bytes) {
      written.back()->SetLedger(options.segment_ledger());
    }
  }
  if (!input.ok()) return abandon(input);
  if (!written.empty()) {
    if (options.segment_ledger) written.back()->SetLedger(options.segment_ledger());
    Status s = written.back()->Finish();
    if (!s.ok()) return abandon(s);
  }
  // Commit in offset order: a reader sees a prefix of the new segments, never a gap.
  for (size_t i = 0; i < written.size(); ++i) {
    auto path = written[i]->Commit();
    if (!path.ok()) {
      for (size_t j = i; j < written.size(); ++j) written[j]->Abandon();
      return path.status();
    }
    result.segments.push_back(*path);
  }
  return result;
}

namespace {

std::string& RootSlot() {
  static std::string root;
  return root;
}

// "2026-12-03T10:00:00Z" / "...:00.250Z" (UTC; the Z may be left out) -> ms since the epoch.
bool ParseUtc(std::string_view s, int64_t* ms) {
  int y, mo, d, h, mi, sec, frac = 0, n = 0;
  std::string str(s);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6) return false;
  std::string_view rest = s.substr(static_cast<size_t>(n));
  if (!rest.empty() && rest[0] == '.') {
    size_t digits = 0;
    while (digits + 1 < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits + 1])) && digits < 3) {
      frac = frac * 10 + (rest[digits + 1] - '0');
      ++digits;
    }
    if (digits != 3) return false;
    rest.remove_prefix(4);
  }
  if (rest == "Z") rest.remove_prefix(1);
  if (!rest.empty() || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return false;
  const int64_t days = DaysFromCivil(y, mo, d);
  *ms = ((days * 24 + h) * 60 + mi) * 60000 + static_cast<int64_t>(sec) * 1000 + frac;
  return true;
}

struct Bound {
  bool set = false, time = false;
  uint64_t offset = 0;
  int64_t ms = 0;
};

bool ParseBound(std::string_view s, Bound* b) {
  if (s.empty()) return true;
  b->set = true;
  if (s.find_first_not_of("0123456789") == std::string_view::npos) {
    auto r = std::from_chars(s.data(), s.data() + s.size(), b->offset);
    return r.ec == std::errc();
  }
  b->time = true;
  return ParseUtc(s, &b->ms);
}

}  // namespace

void SetStoreRoot(std::string root) { RootSlot() = std::move(root); }

Result<std::string> StoreRoot() {
  if (!RootSlot().empty()) return RootSlot();
  if (DfsRegistered()) return std::string("dfs:/");
  return InvalidArgument("logs: inputs need a store: --cluster D, or --store DIR in local mode");
}

bool IsLogInput(const std::string& input) { return input.rfind("logs:", 0) == 0; }

Result<std::vector<LogSelection>> ResolveLogInput(const std::string& input) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("bad log input '" + input + "': " + why +
                           " (want logs:STREAM[/PARTITION][@FROM,TO], FROM/TO offsets or UTC times)");
  };
  std::string spec = input.substr(5);
  std::string range;
  if (size_t at = spec.find('@'); at != std::string::npos) {
    range = spec.substr(at + 1);
    spec = spec.substr(0, at);
  }
  std::string stream = spec;
  int only_partition = -1;
  if (size_t slash = spec.find('/'); slash != std::string::npos) {
    stream = spec.substr(0, slash);
    std::string p = spec.substr(slash + 1);
    if (p.empty() || p.size() > 9 || p.find_first_not_of("0123456789") != std::string::npos) return bad("bad partition");
    only_partition = std::stoi(p);
  }
  Bound from, to;
  if (!range.empty()) {
    size_t comma = range.find(',');
    if (comma == std::string::npos) return bad("a range needs FROM,TO");
    if (!ParseBound(std::string_view(range).substr(0, comma), &from) ||
        !ParseBound(std::string_view(range).substr(comma + 1), &to)) {
      return bad("bad FROM or TO");
    }
    if (from.set && to.set && from.time != to.time) return bad("FROM and TO must both be offsets or both times");
  }
  RETURN_IF_ERROR(ValidateStream(stream, std::max(only_partition, 0)));
  ASSIGN_OR_RETURN(std::string root, StoreRoot());
  std::vector<int> partitions{only_partition};
  if (only_partition < 0) {
    ASSIGN_OR_RETURN(partitions, ListPartitions(root, stream));
    if (partitions.empty()) return NotFound("no log stream " + stream + " under " + JoinPath(root, "logs"));
  }
  LogSelection proto;
  proto.filtered = from.set || to.set;
  if (from.set && from.time) proto.min_time_ms = from.ms;
  if (from.set && !from.time) proto.min_offset = from.offset;
  if (to.set && to.time) proto.max_time_ms = to.ms - 1;
  if (to.set && !to.time) {
    if (to.offset == 0) return std::vector<LogSelection>{};
    proto.max_offset = to.offset - 1;
  }
  std::vector<LogSelection> out;
  for (int p : partitions) {
    ASSIGN_OR_RETURN(auto segments, ListSegments(root, stream, p));
    for (const auto& seg : segments) {
      if (seg.last_offset < proto.min_offset || seg.first_offset > proto.max_offset) continue;
      if (seg.max_time_ms < proto.min_time_ms || seg.min_time_ms > proto.max_time_ms) continue;
      // The offsets that may hold selected records: the offset range, narrowed to the time
      // index's chunks that overlap the time range.
      uint64_t lo = std::max(proto.min_offset, seg.first_offset), hi = std::min(proto.max_offset, seg.last_offset);
      if (from.time || to.time) {
        std::string dir = PartitionDir(root, stream, p);
        ASSIGN_OR_RETURN(auto index, RecordFileReader::Open(JoinPath(dir, SegmentName(seg.first_offset, ".tidx"))));
        RecordIterator it = index->NewIterator();
        uint64_t tlo = ~uint64_t{0}, thi = 0;
        std::vector<std::pair<uint64_t, bool>> chunks;  // first offset, overlaps
        while (it.Next()) {
          if (it.key().size() != 8 || it.value().size() != 16) return Corruption(seg.path + ": malformed time index");
          int64_t cmin = static_cast<int64_t>(LoadBigEndian(it.value()) ^ (1ull << 63));
          int64_t cmax = static_cast<int64_t>(LoadBigEndian(it.value().substr(8)) ^ (1ull << 63));
          chunks.emplace_back(LoadBigEndian(it.key()), cmax >= proto.min_time_ms && cmin <= proto.max_time_ms);
        }
        RETURN_IF_ERROR(it.status());
        for (size_t c = 0; c < chunks.size(); ++c) {
          if (!chunks[c].second) continue;
          uint64_t end = c + 1 < chunks.size() ? chunks[c + 1].first - 1 : seg.last_offset;
          tlo = std::min(tlo, chunks[c].first);
          thi = std::max(thi, end);
        }
        if (tlo > thi) continue;
        lo = std::max(lo, tlo);
        hi = std::min(hi, thi);
        if (lo > hi) continue;
      }
      ASSIGN_OR_RETURN(auto reader, RecordFileReader::Open(seg.path));
      const auto& blocks = reader->blocks();
      LogSelection sel = proto;
      sel.path = seg.path;
      // Blocks whose offsets can reach [lo, hi]: from the last block starting at or before lo
      // to the last block starting at or before hi.
      sel.first_block = 0;
      sel.end_block = 0;
      for (size_t b = 0; b < blocks.size(); ++b) {
        uint64_t first = LoadBigEndian(blocks[b].first_key);
        if (first <= lo) sel.first_block = b;
        if (first <= hi) sel.end_block = b + 1;
      }
      if (sel.end_block > sel.first_block) out.push_back(std::move(sel));
    }
  }
  return out;
}

}  // namespace sawmill::logs
