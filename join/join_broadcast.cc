// Broadcast hash join: map tasks over the large side probe a hash table of the small side. The
// table is built once per process and shared by its map threads; on a cluster, where each
// attempt is a process, the small side is copied from the store once per worker into the job's
// cache dir and every attempt there builds its table from the local copy. When the join keeps
// the small side's unmatched rows (full outer), each map task sends a bitmap of the small keys
// it matched to the job's tail reducer, which emits the rows of keys no task matched.
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "common/file.h"
#include "common/local_fs.h"
#include "join/join.h"
#include "join/join_internal.h"
#include "mapreduce/input_split.h"

namespace sawmill {
namespace {

// Matched-key bitmaps travel to the tail in chunks of this many 64-bit words (8 KiB).
constexpr size_t kChunkWords = 1024;

std::string Hex64(uint64_t x) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(x));
  return buf;
}

// Copies `files` into a directory under cache_dir (once per machine and job: the first attempt
// copies under a lock, later ones find the _DONE marker); returns the local copies in order.
Result<std::vector<std::string>> LocalCopies(const std::string& cache_dir, const std::string& input,
                                             const std::vector<std::string>& files, bool* copied) {
  *copied = false;
  RETURN_IF_ERROR(MakeDirs(cache_dir));
  std::string lock_path = JoinPath(cache_dir, "broadcast.lock");
  int fd = ::open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0) return IOError("open " + lock_path + ": " + std::strerror(errno));
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }  // closing drops the flock
  } unlock{fd};
  if (::flock(fd, LOCK_EX) != 0) return IOError("flock " + lock_path + ": " + std::strerror(errno));
  std::string dir = JoinPath(cache_dir, "broadcast-" + Hex64(XXH3_64bits(input.data(), input.size())));
  std::vector<std::string> copies;
  for (size_t i = 0; i < files.size(); ++i) copies.push_back(JoinPath(dir, "f" + std::to_string(i)));
  if (PathExists(JoinPath(dir, "_DONE"))) return copies;
  RETURN_IF_ERROR(RemoveAll(dir));
  RETURN_IF_ERROR(MakeDirs(dir));
  for (size_t i = 0; i < files.size(); ++i) {
    ASSIGN_OR_RETURN(ResolvedPath r, ResolvePath(files[i]));
    ASSIGN_OR_RETURN(auto in, r.fs->OpenRead(r.path));
    ASSIGN_OR_RETURN(auto out, LocalFs()->Create(copies[i]));
    std::string buf(8 << 20, '\0');
    for (uint64_t at = 0; at < in->size();) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), in->size() - at));
      RETURN_IF_ERROR(in->ReadAt(at, n, buf.data()));
      RETURN_IF_ERROR(out->Append(std::string_view(buf.data(), n)));
      at += n;
    }
    RETURN_IF_ERROR(out->Close());
  }
  RETURN_IF_ERROR(WriteStringToFile(JoinPath(dir, "_DONE"), ""));
  *copied = true;
  return copies;
}

struct LoadedSide {
  std::shared_ptr<const JoinHashTable> table;
  uint64_t malformed = 0;
  int store_reads = 0;  // 1 for the caller that read the side from its input (or copied it)
};

// The process's tables, by input and cache dir. Jobs read immutable inputs, so a table stays
// valid for the life of the process.
Result<LoadedSide> SharedTable(const JoinDef& def, int side, const std::string& cache_dir) {
  static std::mutex mu;
  static std::map<std::string, LoadedSide> tables;
  const std::string& input = def.side[side].input;
  std::lock_guard<std::mutex> l(mu);
  std::string id = input + '\0' + cache_dir + '\0' + std::to_string(side);
  auto it = tables.find(id);
  if (it != tables.end()) {
    LoadedSide shared = it->second;
    shared.store_reads = 0;
    return shared;
  }
  ASSIGN_OR_RETURN(auto files, ExpandInput(input));
  LoadedSide loaded;
  loaded.store_reads = 1;
  if (!cache_dir.empty()) {
    bool copied;
    auto copies = LocalCopies(cache_dir, input, files, &copied);
    if (!copies.ok()) return copies.status().WithContext("copying broadcast side " + input + " to " + cache_dir);
    files = std::move(copies).value();
    loaded.store_reads = copied ? 1 : 0;
  }
  ASSIGN_OR_RETURN(auto table, JoinHashTable::Load(def, side, files, &loaded.malformed));
  loaded.table = std::move(table);
  tables[id] = loaded;
  return loaded;
}

// The task's table of the small side; counts reads of it from its input: one per process
// locally, one per worker on a cluster (attempts on a worker share its copy in the cache dir).
LoadedSide TaskTable(const JoinDef& def, int small, TaskContext& ctx) {
  auto loaded = SharedTable(def, small, std::string(ctx.cache_dir()));
  if (!loaded.ok()) throw std::runtime_error("broadcast side: " + loaded.status().ToString());
  if (loaded->store_reads) ctx.Increment(kBroadcastReadsCounter, loaded->store_reads);
  return *loaded;
}

// Emits a match (or an unmatched row: the other side null) in (left, right) order.
void EmitSides(const JoinDef& def, int small, std::string_view jk, const std::string_view* large,
               const std::string_view* small_row, TaskContext& ctx) {
  if (small == 1) {
    def.emit(jk, large, small_row, ctx);
  } else {
    def.emit(jk, small_row, large, ctx);
  }
}

class BroadcastMapper final : public Mapper {
 public:
  BroadcastMapper(const JoinDef& def, int small) : def_(def), small_(small), rows_(def, 1 - small) {}

  void Setup(TaskContext& ctx) override {
    LoadedSide loaded = TaskTable(def_, small_, ctx);
    table_ = loaded.table;
    if (KeepsUnmatched(def_.type, small_)) matched_.assign((table_->keys() + 63) / 64, 0);
    // The small side is read by every task; count its malformed rows once per job.
    if (ctx.task_index() == 0 && loaded.malformed) {
      ctx.Increment(kMalformedRowsCounter, static_cast<int64_t>(loaded.malformed));
    }
  }

  // Rows wait in a small batch whose table slots are prefetched, so that the cache misses of a
  // large table overlap instead of stalling one row at a time. Output order is row order.
  void Map(std::string_view key, std::string_view value, TaskContext& ctx) override {
    std::string_view jk, payload;
    if (!rows_.Extract(key, value, ctx, &jk, &payload)) return;
    uint64_t hash = JoinHashTable::HashOf(jk);
    table_->Prefetch(hash);
    batch_.push_back({batch_bytes_.size(), jk.size(), payload.size(), hash, -1});
    batch_bytes_.append(jk);
    batch_bytes_.append(payload);
    if (batch_.size() == kBatch) Flush(ctx);
  }

  void Finish(TaskContext& ctx) override {
    Flush(ctx);
    // The matched keys' bitmap, in chunks keyed by their big-endian index; all-zero ones omitted.
    for (size_t c = 0; c * kChunkWords < matched_.size(); ++c) {
      size_t begin = c * kChunkWords, end = std::min(matched_.size(), begin + kChunkWords);
      if (std::all_of(matched_.begin() + begin, matched_.begin() + end, [](uint64_t w) { return w == 0; })) continue;
      uint32_t index = htonl(static_cast<uint32_t>(c));
      ctx.EmitToTail(std::string_view(reinterpret_cast<const char*>(&index), sizeof index),
                     std::string_view(reinterpret_cast<const char*>(matched_.data() + begin), (end - begin) * 8));
    }
  }

 private:
  static constexpr size_t kBatch = 16;
  struct Pending {
    size_t offset, key_size, payload_size;
    uint64_t hash;
    int32_t row = -1;
  };

  void Flush(TaskContext& ctx) {
    // Three passes, each prefetching what the next one reads: slot -> row -> payload.
    for (Pending& p : batch_) {
      p.row = table_->FindHashed(std::string_view(batch_bytes_.data() + p.offset, p.key_size), p.hash);
      if (p.row >= 0) table_->PrefetchRow(p.row);
    }
    for (const Pending& p : batch_) {
      if (p.row >= 0) table_->PrefetchPayload(p.row);
    }
    for (const Pending& p : batch_) {
      std::string_view jk(batch_bytes_.data() + p.offset, p.key_size);
      std::string_view payload(batch_bytes_.data() + p.offset + p.key_size, p.payload_size);
      if (p.row < 0) {
        if (KeepsUnmatched(def_.type, 1 - small_)) EmitSides(def_, small_, jk, &payload, nullptr, ctx);
        continue;
      }
      if (!matched_.empty()) {
        uint32_t id = table_->row(p.row).key_id;
        matched_[id / 64] |= uint64_t{1} << (id % 64);
      }
      for (int32_t r = p.row; r >= 0; r = table_->row(r).next) {
        std::string_view other = table_->payload(table_->row(r));
        EmitSides(def_, small_, jk, &payload, &other, ctx);
      }
    }
    batch_.clear();
    batch_bytes_.clear();
  }

  const JoinDef& def_;
  int small_;
  JoinRowReader rows_;
  std::shared_ptr<const JoinHashTable> table_;
  std::vector<Pending> batch_;
  std::string batch_bytes_;
  std::vector<uint64_t> matched_;  // by key id; only when the small side's unmatched rows are kept
};

// The tail of a join that keeps the small side's unmatched rows: ORs the map tasks' bitmaps of
// matched keys, then emits every small row whose key none matched, in the small side's order.
class BroadcastTail final : public Reducer {
 public:
  BroadcastTail(const JoinDef& def, int small) : def_(def), small_(small) {}

  void Setup(TaskContext& ctx) override {
    table_ = TaskTable(def_, small_, ctx).table;
    matched_.assign((table_->keys() + 63) / 64, 0);
  }

  void Reduce(std::string_view key, ValueIterator& values, TaskContext&) override {
    uint32_t index;
    if (key.size() != sizeof index) throw std::runtime_error("bad bitmap chunk key of " + std::to_string(key.size()) + " bytes");
    std::memcpy(&index, key.data(), sizeof index);
    size_t begin = static_cast<size_t>(ntohl(index)) * kChunkWords;
    for (std::string_view v; values.Next(&v);) {
      if (v.size() % 8 != 0 || begin + v.size() / 8 > matched_.size()) {
        throw std::runtime_error("bitmap chunk " + std::to_string(ntohl(index)) + " does not fit the broadcast side's " +
                                 std::to_string(table_->keys()) + " keys");
      }
      for (size_t i = 0; i < v.size() / 8; ++i) {
        uint64_t w;
        std::memcpy(&w, v.data() + 8 * i, 8);
        matched_[begin + i] |= w;
      }
    }
  }

  void Finish(TaskContext& ctx) override {
    for (size_t r = 0; r < table_->rows(); ++r) {
      const JoinHashTable::Row& row = table_->row(static_cast<int32_t>(r));
      if (matched_[row.key_id / 64] >> (row.key_id % 64) & 1) continue;
      std::string_view payload = table_->payload(row);
      EmitSides(def_, small_, table_->key(row.key_id), nullptr, &payload, ctx);
    }
  }

 private:
  const JoinDef& def_;
  int small_;
  std::shared_ptr<const JoinHashTable> table_;
  std::vector<uint64_t> matched_;
};

}  // namespace

Result<JobSpec> BroadcastJoin(const JoinDef& def_in, int small) {
  auto def = std::make_shared<const JoinDef>(def_in);
  int large = 1 - small;
  JobSpec spec;
  spec.name = def->name;
  spec.inputs = {def->side[large].input};
  spec.input_formats = {def->side[large].format};
  spec.mapper = [def, small] { return std::make_unique<BroadcastMapper>(*def, small); };
  if (KeepsUnmatched(def->type, small)) {
    spec.tail_reducer = [def, small] { return std::make_unique<BroadcastTail>(*def, small); };
  }
  return spec;
}

}  // namespace sawmill
