// Join names, the composite key encoding, malformed-row handling and the side hash table.
#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "common/file.h"
#include "common/local_fs.h"
#include "join/join.h"
#include "join/join_internal.h"
#include "mapreduce/input_split.h"
#include "mapreduce/split_reader.h"
#include "mapreduce/task.h"
#include "mapreduce/task_context.h"
#include "records/record_file.h"

namespace sawmill {

const char* JoinTypeName(JoinType t) {
  switch (t) {
    case JoinType::kInner: return "inner";
    case JoinType::kLeft: return "left";
    case JoinType::kRight: return "right";
    case JoinType::kFull: return "full";
  }
  return "?";
}

const char* JoinStrategyName(JoinStrategy s) {
  switch (s) {
    case JoinStrategy::kAuto: return "auto";
    case JoinStrategy::kReduce: return "reduce";
    case JoinStrategy::kBroadcast: return "broadcast";
    case JoinStrategy::kPartitioned: return "partitioned";
    case JoinStrategy::kMerge: return "merge";
  }
  return "?";
}

bool ParseJoinType(std::string_view s, JoinType* t) {
  for (JoinType c : {JoinType::kInner, JoinType::kLeft, JoinType::kRight, JoinType::kFull}) {
    if (s == JoinTypeName(c)) {
      *t = c;
      return true;
    }
  }
  return false;
}

bool ParseJoinStrategy(std::string_view s, JoinStrategy* out) {
  for (JoinStrategy c : {JoinStrategy::kAuto, JoinStrategy::kReduce, JoinStrategy::kBroadcast,
                         JoinStrategy::kPartitioned, JoinStrategy::kMerge}) {
    if (s == JoinStrategyName(c)) {
      *out = c;
      return true;
    }
  }
  return false;
}

void EncodeJoinKey(std::string_view raw, uint16_t salt, uint8_t tag, std::string* out) {
  out->clear();
  if (raw.find('\0') == std::string_view::npos) {
    out->append(raw);
  } else {
    for (char c : raw) {
      out->push_back(c);
      if (c == '\0') out->push_back('\xff');
    }
  }
  const char side = static_cast<char>(1 + (tag & 1));
  if (salt == 0) {
    const char tail[2] = {'\0', side};
    out->append(tail, sizeof tail);
  } else {
    const char tail[5] = {'\0', '\x03', static_cast<char>(salt >> 8), static_cast<char>(salt & 0xff), side};
    out->append(tail, sizeof tail);
  }
}

namespace {

// Position of the terminator (a 0x00 followed by 0x01..0x03), or npos (also when a 0x00 is
// neither escaped as 0x00 0xFF nor the terminator: such bytes are not an encoding).
size_t Terminator(std::string_view e) {
  size_t i = 0;
  while ((i = e.find('\0', i)) != std::string_view::npos) {
    if (i + 1 >= e.size()) return std::string_view::npos;
    if (e[i + 1] != '\xff') return e[i + 1] >= '\x01' && e[i + 1] <= '\x03' ? i : std::string_view::npos;
    i += 2;
  }
  return std::string_view::npos;
}

// The encoding's length from its terminator at `t`, or 0 when the bytes after it are not one
// (salt 0 has only the short form).
size_t EncodedLength(std::string_view e, size_t t) {
  if (t == std::string_view::npos) return 0;
  bool salted = e[t + 1] == '\x03';
  size_t n = salted ? t + 5 : t + 2;
  if (n > e.size() || (e[n - 1] != '\x01' && e[n - 1] != '\x02')) return 0;
  if (salted && e[t + 2] == '\0' && e[t + 3] == '\0') return 0;
  return n;
}

}  // namespace

size_t JoinGroupPrefix(std::string_view encoded) {
  size_t n = EncodedLength(encoded, Terminator(encoded));
  return n == 0 ? encoded.size() : n - 1;
}

bool DecodeJoinKey(std::string_view encoded, std::string_view* raw, uint16_t* salt, uint8_t* tag,
                   std::string* scratch) {
  size_t t = Terminator(encoded);
  if (EncodedLength(encoded, t) != encoded.size() || encoded.empty()) return false;
  std::string_view body = encoded.substr(0, t);
  if (body.find('\0') == std::string_view::npos) {
    *raw = body;
  } else {
    scratch->clear();
    for (size_t i = 0; i < body.size(); ++i) {
      scratch->push_back(body[i]);
      if (body[i] == '\0') ++i;  // skip the escape byte
    }
    *raw = *scratch;
  }
  *salt = encoded[t + 1] == '\x03'
              ? static_cast<uint16_t>((static_cast<uint8_t>(encoded[t + 2]) << 8) | static_cast<uint8_t>(encoded[t + 3]))
              : 0;
  *tag = JoinKeyTag(encoded);
  return true;
}

std::string_view JoinKeyRaw(std::string_view encoded, std::string* scratch) {
  // Unsalted and without escapes: the first 0x00 is the terminator, two bytes from the end.
  size_t n = encoded.size();
  if (n >= 2 && encoded[n - 2] == '\0' && (encoded[n - 1] == '\x01' || encoded[n - 1] == '\x02') &&
      std::memchr(encoded.data(), 0, n - 2) == nullptr) {
    return encoded.substr(0, n - 2);
  }
  std::string_view raw;
  uint16_t salt;
  uint8_t tag;
  return DecodeJoinKey(encoded, &raw, &salt, &tag, scratch) ? raw : encoded;
}

bool JoinRowReader::Extract(std::string_view key, std::string_view value, TaskContext& ctx,
                            std::string_view* join_key, std::string_view* payload) {
  payload_.clear();
  if (__builtin_expect(def_.side[side_].extract(key, value, join_key, &payload_, &scratch_), 1)) {
    *payload = payload_;
    return true;
  }
  Malformed(ctx, std::string(ctx.input_path()), ctx.record_offset(), payload_);
  return false;
}

namespace {

// "line N" of a text file at a byte offset (counting newlines before it), or "block N".
std::string Where(const std::string& path, uint64_t offset, InputFormat format) {
  if (format != InputFormat::kTextLines) return path + " block " + std::to_string(offset);
  uint64_t line = 1;
  auto r = ResolvePath(path);
  if (r.ok()) {
    auto f = r->fs->OpenRead(r->path);
    if (f.ok()) {
      std::string buf(1 << 20, '\0');
      for (uint64_t at = 0; at < offset;) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), offset - at));
        if (!(*f)->ReadAt(at, n, buf.data()).ok()) break;
        for (size_t i = 0; i < n; ++i) line += buf[i] == '\n';
        at += n;
      }
    }
  }
  return path + ":" + std::to_string(line);
}

}  // namespace

void JoinRowReader::Malformed(TaskContext& ctx, const std::string& path, uint64_t offset, const std::string& why) {
  ctx.Increment(kMalformedRowsCounter);
  if (quiet_ || (!def_.strict && reported_ >= 5)) return;
  std::string msg = "malformed " + std::string(side_ == 0 ? "left" : "right") + " row at " +
                    Where(path, offset, def_.side[side_].format) + (why.empty() ? "" : ": " + why);
  if (def_.strict) throw std::runtime_error(msg + " (--strict)");
  ++reported_;
  std::fprintf(stderr, "warning: %s%s\n", msg.c_str(), reported_ == 5 ? " (further ones only counted)" : "");
}

uint64_t JoinHashTable::HashOf(std::string_view key) { return XXH3_64bits(key.data(), key.size()); }

void JoinHashTable::Add(std::string_view key, std::string_view payload) { AddHashed(key, payload, HashOf(key)); }

void JoinHashTable::AddHashed(std::string_view key, std::string_view payload, uint64_t hash) {
  int32_t row = static_cast<int32_t>(rows_.size());
  uint32_t id;
  int32_t first = FindHashed(key, hash);
  if (first >= 0) {
    id = rows_[static_cast<size_t>(first)].key_id;
    rows_[static_cast<size_t>(keys_[id].last)].next = row;
    keys_[id].last = row;
  } else {
    if ((keys_.size() + 1) * 2 > mask_ + 1) Grow();
    id = static_cast<uint32_t>(keys_.size());
    keys_.push_back({key_arena_.size(), static_cast<uint32_t>(key.size()), row, row});
    key_arena_.append(key);
    uint64_t i = hash & mask_;
    while (slot(i).first_plus1 != 0) i = (i + 1) & mask_;
    Slot& s = slot(i);
    s.hash = hash;
    s.first_plus1 = row + 1;
    s.size = static_cast<uint32_t>(key.size());
    std::memcpy(s.inline_key, key.data(), std::min(key.size(), kInline));
  }
  rows_.push_back({arena_.size(), static_cast<uint32_t>(payload.size()), id, -1});
  arena_.append(payload);
}

namespace {

// Asks for transparent huge pages on the 2 MiB-aligned interior of a fresh allocation, before
// it is touched: page faults cost ~10 us each on our machines, and the rows are read randomly.
void AdviseHugePages(const void* p, size_t bytes) {
  constexpr uintptr_t kHuge = 2 << 20;
  uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kHuge - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

}  // namespace

void JoinHashTable::Reserve(uint64_t rows, uint64_t payload_bytes) {
  rows_.reserve(rows);
  keys_.reserve(rows);
  arena_.reserve(payload_bytes);
  AdviseHugePages(rows_.data(), rows_.capacity() * sizeof(Row));
  AdviseHugePages(keys_.data(), keys_.capacity() * sizeof(KeyEntry));
  AdviseHugePages(arena_.data(), arena_.capacity());
  while (rows * 2 > mask_ + 1) Grow(mask_ + 1 >= rows ? 2 : 4);
}

void JoinHashTable::Grow(uint64_t factor) {
  uint64_t old_count = slots_.data() ? mask_ + 1 : 0;
  BigBuffer old = std::move(slots_);
  uint64_t count = old_count ? old_count * factor : 1024;
  slots_ = BigBuffer(count * sizeof(Slot));
  mask_ = count - 1;
  const Slot* from = reinterpret_cast<const Slot*>(old.data());
  for (uint64_t k = 0; k < old_count; ++k) {
    const Slot& s = from[k];
    if (s.first_plus1 == 0) continue;
    uint64_t i = s.hash & mask_;
    while (slot(i).first_plus1 != 0) i = (i + 1) & mask_;
    slot(i) = s;
  }
}

namespace {

// Collects nothing: Load reads records itself, but JoinRowReader wants a TaskContext for
// counters and the record's place.
struct NullSink {
  Status Add(std::string_view, std::string_view) { return Status::Ok(); }
};

}  // namespace

Result<std::unique_ptr<JoinHashTable>> JoinHashTable::Load(const JoinDef& def, int side,
                                                           const std::vector<std::string>& files, uint64_t* malformed) {
  auto table = std::make_unique<JoinHashTable>();
  const JoinSideDef& sd = def.side[side];
  // Sized once from the first rows (growing a large table rehashes and copies it repeatedly).
  uint64_t total_bytes = 0, sampled_bytes = 0;
  for (const auto& path : files) {
    ASSIGN_OR_RETURN(ResolvedPath r, ResolvePath(path));
    ASSIGN_OR_RETURN(FileInfo info, r.fs->Stat(r.path));
    total_bytes += info.size;
  }
  bool reserved = false;
  struct Pending {
    size_t offset, key_size, payload_size;
    uint64_t hash;
  };
  std::vector<Pending> batch;
  std::string batch_bytes;
  auto flush = [&] {
    for (const Pending& p : batch) {
      table->AddHashed(std::string_view(batch_bytes.data() + p.offset, p.key_size),
                       std::string_view(batch_bytes.data() + p.offset + p.key_size, p.payload_size), p.hash);
    }
    batch.clear();
    batch_bytes.clear();
  };
  for (const auto& path : files) {
    ASSIGN_OR_RETURN(InputSplit split, WholeFileSplit(path, sd.format));
    SplitReaderOptions ro;
    ro.format = sd.format;
    ASSIGN_OR_RETURN(auto reader, OpenSplit(split, ro));
    TaskConfig config;
    TaskStats stats;
    NullSink sink;
    TaskContextImpl<NullSink> ctx(config, &stats, &sink);
    ctx.set_input_path(path);
    JoinRowReader rows(def, side);
    std::string_view k, v, jk, payload;
    Status s = CallUserCode([&] { return "loading " + path + " at offset " + std::to_string(reader->offset()); }, [&] {
      while (reader->Next(&k, &v)) {
        ctx.set_record_offset(reader->offset());
        if (!rows.Extract(k, v, ctx, &jk, &payload)) continue;
        if (!reserved) {
          table->Add(jk, payload);
          sampled_bytes += jk.size() + payload.size() + 2;
          if (table->rows() == 1000 || sampled_bytes > (1 << 20)) {
            reserved = true;
            table->Reserve(total_bytes * table->rows() / sampled_bytes + 1, total_bytes);
          }
          continue;
        }
        // Inserts wait in a batch whose slots are prefetched (each new key's slot is a miss).
        uint64_t hash = HashOf(jk);
        table->Prefetch(hash);
        batch.push_back({batch_bytes.size(), jk.size(), payload.size(), hash});
        batch_bytes.append(jk);
        batch_bytes.append(payload);
        if (batch.size() == 16) flush();
      }
      flush();
    });
    RETURN_IF_ERROR(s);
    RETURN_IF_ERROR(reader->status());
    auto it = stats.counters.find(kMalformedRowsCounter);
    if (it != stats.counters.end()) *malformed += static_cast<uint64_t>(it->second);
  }
  return table;
}

}  // namespace sawmill
