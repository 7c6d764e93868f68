// Reduce-side join: both sides are shuffled on an encoded (join key, salt, side tag) key, the
// buffered side sorting first within each (key, salt) group; the reducer buffers those rows
// (spilling past its budget) and pairs every streamed row with them. Hot keys are spread over
// all reducers by salting the large side's rows and copying the buffered side's rows to each.
#include <algorithm>
#include <memory>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "common/file.h"
#include "join/join.h"
#include "join/join_buffer.h"
#include "join/join_internal.h"

namespace sawmill {
namespace {

constexpr uint8_t kBufferedTag = 0, kStreamedTag = 1;

// The hot keys, tested by hash first: every row of the job asks.
class HotKeys {
 public:
  explicit HotKeys(const std::vector<std::string>& keys) : keys_(keys) {
    for (const auto& k : keys_) hashes_.push_back(XXH3_64bits(k.data(), k.size()));
    std::sort(hashes_.begin(), hashes_.end());
  }
  bool Contains(std::string_view key) const {
    if (hashes_.empty()) return false;
    if (!std::binary_search(hashes_.begin(), hashes_.end(), XXH3_64bits(key.data(), key.size()))) return false;
    return std::binary_search(keys_.begin(), keys_.end(), key,
                              [](auto a, auto b) { return std::string_view(a) < std::string_view(b); });
  }

 private:
  const std::vector<std::string>& keys_;  // sorted
  std::vector<uint64_t> hashes_;
};

class TagMapper final : public Mapper {
 public:
  TagMapper(const JoinDef& def, int side, const ReduceJoinOptions& o)
      : def_(def), side_(side), buffered_(side == o.buffered_side), hot_(o.hot_keys), rows_(def, side) {}


  void Map(std::string_view key, std::string_view value, TaskContext& ctx) override {
    std::string_view jk, payload;
    if (!rows_.Extract(key, value, ctx, &jk, &payload)) return;
    uint8_t tag = buffered_ ? kBufferedTag : kStreamedTag;
    if (__builtin_expect(!hot_.Contains(jk), 1)) {
      EncodeJoinKey(jk, 0, tag, &encoded_);
      ctx.Emit(encoded_, payload);
      return;
    }
    int reducers = std::max(1, ctx.num_reducers());
    if (buffered_) {
      // Every reducer holding a share of the key's large-side rows needs all of these.
      for (int s = 0; s < reducers; ++s) {
        EncodeJoinKey(jk, static_cast<uint16_t>(s), tag, &encoded_);
        ctx.Emit(encoded_, payload);
      }
    } else {
      EncodeJoinKey(jk, static_cast<uint16_t>(SaltOf(ctx) % static_cast<uint64_t>(reducers)), tag, &encoded_);
      ctx.Emit(encoded_, payload);
      ctx.Increment(kHotKeyRowsCounter);
    }
  }

 private:
  // A hot row's salt comes from its place in the input (file offset, and its index among the
  // records at that offset: a record file's rows share their block's), not from its map task,
  // so the output is the same however the input is split (--split_mb, --threads, a cluster).
  uint64_t SaltOf(const TaskContext& ctx) {
    uint64_t offset = ctx.record_offset();
    if (offset != last_offset_) {
      last_offset_ = offset;
      at_offset_ = 0;
    }
    uint64_t x = offset * 0x9e3779b97f4a7c15ull + (at_offset_++) + (static_cast<uint64_t>(ctx.input_index()) << 48);
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 32);
  }

  const JoinDef& def_;
  int side_;
  bool buffered_;
  HotKeys hot_;
  JoinRowReader rows_;
  std::string encoded_;
  uint64_t last_offset_ = ~uint64_t{0};
  uint64_t at_offset_ = 0;
};

class JoinReducer final : public Reducer {
 public:
  JoinReducer(const JoinDef& def, const ReduceJoinOptions& o) : def_(def), options_(o), hot_(o.hot_keys) {}

  void Setup(TaskContext& ctx) override {
    JoinBuffer::Options bo;
    bo.spill_path = JoinPath(std::string(ctx.work_dir()), "join-buffer");
    bo.memory_bytes = options_.buffer_bytes ? options_.buffer_bytes : 64 << 20;
    buffer_ = std::make_unique<JoinBuffer>(bo);
    if (ctx.task_index() == 0 && !options_.hot_keys.empty()) {
      ctx.Increment(kHotKeysCounter, static_cast<int64_t>(options_.hot_keys.size()));
    }
  }

  void Reduce(std::string_view key, ValueIterator& values, TaskContext& ctx) override {
    std::string_view raw;
    uint16_t salt;
    uint8_t tag;
    if (!DecodeJoinKey(key, &raw, &salt, &tag, &scratch_)) throw std::runtime_error("malformed join key in shuffle");
    raw_.assign(raw);
    const int buffered = options_.buffered_side, streamed = 1 - buffered;
    buffer_->Clear();
    bool any_streamed = false;
    std::string_view v;
    while (values.Next(&v)) {
      std::string_view full = values.key();
      if (JoinKeyTag(full) == kBufferedTag) {
        Check(buffer_->Add(v));
        continue;
      }
      any_streamed = true;
      if (buffer_->rows() == 0) {
        if (KeepsUnmatched(def_.type, streamed)) Emit(streamed, &v, nullptr, ctx);
        continue;
      }
      Check(buffer_->ForEach([&](std::string_view b) { Emit(streamed, &v, &b, ctx); }));
    }
    spilled_ += buffer_->spilled_rows();
    // A hot key's buffered rows were copied to every reducer and the key has large-side rows
    // (it was sampled from them), so they are never unmatched.
    if (!any_streamed && KeepsUnmatched(def_.type, buffered) && !hot_.Contains(raw_)) {
      Check(buffer_->ForEach([&](std::string_view b) { Emit(buffered, &b, nullptr, ctx); }));
    }
  }

  void Finish(TaskContext& ctx) override {
    if (spilled_) ctx.Increment(kSpilledRowsCounter, static_cast<int64_t>(spilled_));
  }

 private:
  // `a` belongs to side `a_side`, `b` to the other.
  void Emit(int a_side, const std::string_view* a, const std::string_view* b, TaskContext& ctx) {
    if (a_side == 0) {
      def_.emit(raw_, a, b, ctx);
    } else {
      def_.emit(raw_, b, a, ctx);
    }
  }
  static void Check(const Status& s) {
    if (!s.ok()) throw std::runtime_error(s.ToString());
  }

  const JoinDef& def_;
  const ReduceJoinOptions& options_;
  HotKeys hot_;
  std::unique_ptr<JoinBuffer> buffer_;
  std::string raw_, scratch_;
  uint64_t spilled_ = 0;
};

// Spreads a hot key's salted groups over the reducers; an unsalted key goes where the hash
// partitioner would send the raw key.
class SaltPartitioner final : public Partitioner {
 public:
  int Partition(std::string_view key, int n) const override {
    thread_local std::string scratch;
    std::string_view raw;
    uint16_t salt = 0;
    uint8_t tag;
    if (!DecodeJoinKey(key, &raw, &salt, &tag, &scratch)) raw = key;
    uint64_t h = XXH3_64bits(raw.data(), raw.size()) % static_cast<uint64_t>(n);
    return static_cast<int>((h + salt) % static_cast<uint64_t>(n));
  }
};

}  // namespace

JobSpec ReduceSideJoin(const JoinDef& def_in, const ReduceJoinOptions& options_in) {
  // The spec's functions outlive this call: they share one copy of the definition.
  auto def = std::make_shared<const JoinDef>(def_in);
  auto options = std::make_shared<ReduceJoinOptions>(options_in);
  std::sort(options->hot_keys.begin(), options->hot_keys.end());
  options->hot_keys.erase(std::unique(options->hot_keys.begin(), options->hot_keys.end()), options->hot_keys.end());
  JobSpec spec;
  spec.name = def->name;
  spec.inputs = {def->side[0].input, def->side[1].input};
  spec.input_formats = {def->side[0].format, def->side[1].format};
  spec.mapper_for_input = [def, options](int i) { return std::make_unique<TagMapper>(*def, i == 1 ? 1 : 0, *options); };
  spec.reducer = [def, options] { return std::make_unique<JoinReducer>(*def, *options); };
  spec.group_prefix = JoinGroupPrefix;
  if (options->hot_keys.empty()) {
    // Parts are then hash-partitioned by the output key, as their manifest says.
    spec.partition_key = JoinKeyRaw;
  } else {
    spec.partitioner = [] { return std::make_unique<SaltPartitioner>(); };
  }
  return spec;
}

}  // namespace sawmill
