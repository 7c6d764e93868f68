// The join operators behind api/dataflow.h's Dataset::Join, LeftJoin and MapValuesWith: the
// reduce-side, co-partitioned and broadcast joins of keyed datasets, and a broadcast side input
// decoded once per map task. Templates over the element types, like dataflow/operators.h.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/coding.h"
#include "dataflow/codec.h"
#include "dataflow/graph.h"
#include "dataflow/operators.h"
#include "dataflow/side_input.h"

namespace sawmill::df::internal {

// Elements that hold views into the bytes they were decoded from.
template <class T>
struct HasView : std::is_same<T, std::string_view> {};
template <class A, class B>
struct HasView<std::pair<A, B>> : std::bool_constant<HasView<A>::value || HasView<B>::value> {};
template <class... Ts>
struct HasView<std::tuple<Ts...>> : std::bool_constant<(HasView<Ts>::value || ...)> {};
template <class T>
struct HasView<std::vector<T>> : HasView<T> {};
template <class T>
struct HasView<std::optional<T>> : HasView<T> {};

enum class JoinKind { kInner, kLeft };

template <class K, class V, class W, JoinKind kind>
class JoinOpsImpl final : public JoinOps {
 public:
  using Right = std::conditional_t<kind == JoinKind::kInner, W, std::optional<W>>;
  using Out = std::pair<K, std::pair<V, Right>>;

  void EncodeMapOutput(int side, const void* e, std::string* key, std::string* value) const override {
    if (side == 0) {
      const auto& x = *static_cast<const std::pair<K, V>*>(e);
      Codec<K>::Encode(x.first, key, false);
      Codec<V>::Encode(x.second, value, true);
    } else {
      const auto& x = *static_cast<const std::pair<K, W>*>(e);
      Codec<K>::Encode(x.first, key, false);
      Codec<W>::Encode(x.second, value, true);
    }
    key->push_back(static_cast<char>(side));
  }
  std::string_view PartitionKey(std::string_view key, std::string* scratch) const override {
    K k = DecodeOrThrow<K>(key, false, "join key");
    scratch->clear();
    Codec<K>::Encode(k, scratch, true);
    return *scratch;
  }
  bool tagged() const override { return true; }
  bool key_partitioned() const override { return true; }
  bool keeps_right_unmatched() const override { return false; }

  // The left rows of a key sort first (tag 0) and are held; each right row meets all of them.
  void Reduce(std::string_view key, ValueIterator& values, Sink* next) const override {
    thread_local std::vector<std::string> left;
    left.clear();
    std::string_view group = key.substr(0, key.size() - 1);
    K k = DecodeOrThrow<K>(group, false, "join key");
    bool matched = false;
    std::string_view v;
    while (values.Next(&v)) {
      if (values.key().back() == 0) {
        left.emplace_back(v);
        continue;
      }
      matched = true;
      W w = DecodeOrThrow<W>(v, true, "value");
      for (const auto& l : left) Emit(k, l, &w, next);
    }
    if (kind == JoinKind::kLeft && !matched) {
      for (const auto& l : left) Emit(k, l, nullptr, next);
    }
  }

  std::unique_ptr<Sink> NewMapSideOp(JoinMode mode, Sink* next, const OpEnv& env) const override {
    if (mode == JoinMode::kBroadcast) return std::make_unique<BroadcastOp>(next, env);
    return std::make_unique<MergeOp>(next, env);
  }

  static void Emit(const K& k, std::string_view left, const W* w, Sink* next) {
    EmitValues(k, DecodeOrThrow<V>(left, true, "value"), w, next);
  }
  static void EmitValues(const K& k, const V& v, const W* w, Sink* next) {
    Out out{k, {v, Right{}}};
    if (w) out.second.second = *w;
    next->Push(&out);
  }

 private:
  // Builds output elements in one reused Out, so that decoded values keep their capacity.
  class Emitting : public OpSink {
   public:
    using OpSink::OpSink;

   protected:
    void EmitPair(const std::pair<K, V>& x, const std::string* right_value) {
      out_.first = x.first;
      out_.second.first = x.second;
      if (right_value) {
        std::string_view r = *right_value;
        bool ok;
        if constexpr (kind == JoinKind::kInner) {
          ok = Codec<W>::Decode(&r, &out_.second.second, true);
        } else {
          if (!out_.second.second) out_.second.second.emplace();
          ok = Codec<W>::Decode(&r, &*out_.second.second, true);
        }
        if (!ok || !r.empty()) throw std::runtime_error("malformed value in a join's right side");
      } else if constexpr (kind == JoinKind::kLeft) {
        out_.second.second.reset();
      }
      next_->Push(&out_);
    }
    // The same with a right value already decoded: lent to the element for the call (swapped
    // in and back out), so that a group's values are decoded once and never copied.
    void EmitDecoded(const std::pair<K, V>& x, W* right) {
      out_.first = x.first;
      out_.second.first = x.second;
      W* slot;
      if constexpr (kind == JoinKind::kInner) {
        slot = &out_.second.second;
      } else {
        if (!out_.second.second) out_.second.second.emplace();
        slot = &*out_.second.second;
      }
      using std::swap;
      swap(*slot, *right);
      next_->Push(&out_);  // an exception here fails the task: the group is not read again
      swap(*slot, *right);
    }
    static void DecodeRight(std::string_view r, W* w) {
      if (!Codec<W>::Decode(&r, w, true) || !r.empty()) throw std::runtime_error("malformed value in a join's right side");
    }

   private:
    Out out_{};
  };

  // Part i of a co-partitioned right side, merged with the left rows of part i (both sorted).
  class MergeOp final : public Emitting {
   public:
    MergeOp(Sink* next, const OpEnv& env) : Emitting(next), right_(env.side_path, env.part_name) {}
    void Push(const void* e) override {
      const auto& x = *static_cast<const std::pair<K, V>*>(e);
      key_.clear();
      Codec<K>::Encode(x.first, &key_, true);
      if (!started_ || !KeyEqual(key_, group_key_)) {
        if (started_ && KeyLess(key_, group_key_)) throw std::runtime_error("co-partitioned join: left input is not sorted by key");
        started_ = true;
        group_key_ = key_;
        size_ = 0;
        while (right_.valid() && KeyLess(right_.key(), key_)) right_.Next();
        // Decoded once, straight from the reader's views, into values that keep their capacity
        // (PageRank: a 10-id list a page, an iteration's 10 M ids no longer copied as bytes
        // first). Values that hold views (string_view) keep copies of their bytes instead: the
        // reader's views end with its block.
        for (; right_.valid() && KeyEqual(right_.key(), key_); right_.Next()) {
          if (group_.size() == size_) group_.emplace_back();
          if constexpr (HasView<W>::value) {
            group_[size_++].assign(right_.value());
          } else {
            this->DecodeRight(right_.value(), &group_[size_++]);
          }
        }
      }
      for (size_t i = 0; i < size_; ++i) {
        if constexpr (HasView<W>::value) {
          this->EmitPair(x, &group_[i]);
        } else {
          this->EmitDecoded(x, &group_[i]);
        }
      }
      if (kind == JoinKind::kLeft && size_ == 0) this->EmitPair(x, nullptr);
    }

   private:
    SortedPartReader right_;
    std::string key_, group_key_;
    // The first size_ hold the right values of group_key_: decoded, or their bytes.
    std::vector<std::conditional_t<HasView<W>::value, std::string, W>> group_;
    size_t size_ = 0;
    bool started_ = false;
  };

  // Every left row probes a hash table of the whole (small) right side.
  class BroadcastOp final : public Emitting {
   public:
    BroadcastOp(Sink* next, const OpEnv& env) : Emitting(next), table_(LoadSideTable(env.side_path)) {}
    void Push(const void* e) override {
      const auto& x = *static_cast<const std::pair<K, V>*>(e);
      key_.clear();
      Codec<K>::Encode(x.first, &key_, true);
      auto it = table_.find(key_);
      if (it != table_.end()) {
        for (const auto& r : it->second) this->EmitPair(x, &r);
      } else if (kind == JoinKind::kLeft) {
        this->EmitPair(x, nullptr);
      }
    }

   private:
    SideTable table_;
    std::string key_;
  };
};

// MapValuesWith without a prepare step: f gets the side's elements themselves.
struct NoPrepare {};
// MapValuesWith without a look-ahead hint: each element goes to f as it arrives.
struct NoAhead {};

// MapValuesWith: a broadcast side input, decoded into a vector (and, with `prepare`, turned into
// whatever the calls need, e.g. an index), given to every call. Built once per process for the
// map tasks that run at the same time or one after another (they all read the same dataset):
// PageRank's 4 tasks an iteration each decoded all ranks and built their index.
//
// With a look-ahead hint, elements wait in a short queue: ahead(value, side) runs as an element
// arrives and f when kAhead more have arrived (or at the end), in arrival order. The hint
// prefetches what f will read, so that the random reads of many elements overlap; without it,
// each element's reads waited on memory behind the previous element's decoding and writing
// (PageRank's sum over in-neighbours: 87% of its samples on one load).
template <class K, class V, class S, class W, class Prep, class F, class Ahead = NoAhead>
class SideOps final : public JoinOps {
 public:
  SideOps(const Prep& prepare, const F& f, const Ahead& ahead = {}) : prepare_(prepare), f_(f), ahead_(ahead) {}
  void EncodeMapOutput(int, const void*, std::string*, std::string*) const override {
    throw std::logic_error("MapValuesWith runs map-side only");
  }
  void Reduce(std::string_view, ValueIterator&, Sink*) const override {
    throw std::logic_error("MapValuesWith runs map-side only");
  }
  bool keeps_right_unmatched() const override { return false; }
  std::unique_ptr<Sink> NewMapSideOp(JoinMode, Sink* next, const OpEnv& env) const override {
    return std::make_unique<Op>(next, env, *this);
  }

 private:
  class Collect final : public Sink {
   public:
    explicit Collect(std::vector<S>* out) : out_(out) {}
    void Push(const void* e) override { out_->push_back(*static_cast<const S*>(e)); }

   private:
    std::vector<S>* out_;
  };
  static auto Prepared(const Prep& prepare, const std::vector<S>& side) {
    if constexpr (std::is_same_v<Prep, NoPrepare>) {
      return 0;
    } else {
      return prepare(side);
    }
  }
  // The side input as the calls see it; shared, read-only, by the tasks that use it.
  struct Built {
    std::vector<std::pair<std::string, std::string>> records;
    std::vector<S> side;
    decltype(Prepared(std::declval<const Prep&>(), std::declval<const std::vector<S>&>())) prepared{};
  };
  // Serially, for elements that hold views into their records (kept with them).
  static std::shared_ptr<const Built> BuildOfViews(const std::string& side_path, const Prep& prepare) {
    auto b = std::make_shared<Built>();
    Collect collect(&b->side);
    b->records = LoadSideRecords(side_path);
    for (const auto& [k, v] : b->records) {
      if (!Records<S>::DecodePush(k, v, &collect)) throw std::runtime_error("malformed record in a side input");
    }
    b->prepared = Prepared(prepare, b->side);
    return b;
  }
  static std::vector<S> DecodePart(const std::string& file) {
    std::vector<S> out;
    Collect collect(&out);
    // Reserved from the footer: a million elements pushed one by one grew the vector through
    // copies and fresh pages while the map tasks waited for the build.
    ForEachPartRecord(
        file,
        [&](std::string_view k, std::string_view v) {
          if (!Records<S>::DecodePush(k, v, &collect)) throw std::runtime_error("malformed record in a side input");
        },
        [&](uint64_t n) { out.reserve(n); });
    return out;
  }
  // A build under way. Every task that needs the side while it is built decodes parts (the next
  // one not taken) instead of waiting; the one that finishes the last part joins them in part
  // order and runs prepare. PageRank: one task built for 19.5 ms an iteration while the other
  // thread idled.
  struct Building {
    std::string path;
    std::vector<std::string> files;
    std::vector<std::vector<S>> parts;
    size_t next = 0, done = 0;
    std::shared_ptr<const Built> result;
    std::exception_ptr error;
  };
  std::shared_ptr<const Built> Finish(Building& b) const {
    auto built = std::make_shared<Built>();
    size_t total = 0;
    for (const auto& p : b.parts) total += p.size();
    built->side.reserve(total);
    for (auto& p : b.parts) {
      built->side.insert(built->side.end(), std::make_move_iterator(p.begin()), std::make_move_iterator(p.end()));
      std::vector<S>().swap(p);
    }
    built->prepared = Prepared(prepare_, built->side);
    return built;
  }
  // The last build, if it is of `side_path` (a committed dataset never changes), else a new one
  // that replaces it. The last one is kept past its tasks: a stage's later tasks may start after
  // its first ones end (PageRank built its index twice an iteration with a weak reference). It
  // goes with the plan, or with the next iteration's dataset.
  std::shared_ptr<const Built> Shared(const std::string& side_path) const {
    std::unique_lock<std::mutex> lock(build_mu_);
    if (built_ && built_path_ == side_path) return built_;
    if constexpr (HasView<S>::value) {
      built_.reset();  // before building the next: one build held at a time
      built_ = BuildOfViews(side_path, prepare_);
      built_path_ = side_path;
      return built_;
    } else {
      if (!building_ || building_->path != side_path) {
        built_.reset();
        auto fresh = std::make_shared<Building>();
        fresh->path = side_path;
        fresh->files = SideParts(side_path);
        fresh->parts.resize(fresh->files.size());
        building_ = fresh;
      }
      std::shared_ptr<Building> b = building_;
      try {
        while (b->next < b->files.size() && !b->error) {
          size_t i = b->next++;
          lock.unlock();
          std::vector<S> part = DecodePart(b->files[i]);
          lock.lock();
          b->parts[i] = std::move(part);
          if (++b->done == b->files.size() && !b->error) {
            lock.unlock();
            std::shared_ptr<const Built> result = Finish(*b);
            lock.lock();
            b->result = std::move(result);
            built_ = b->result;
            built_path_ = side_path;
          }
        }
      } catch (...) {
        if (!lock.owns_lock()) lock.lock();
        if (!b->error) b->error = std::current_exception();
      }
      if (b->result || b->error) {
        if (building_ == b) building_.reset();
        built_cv_.notify_all();
      }
      built_cv_.wait(lock, [&] { return b->result || b->error; });
      if (b->error) std::rethrow_exception(b->error);
      return b->result;
    }
  }
  class Op final : public OpSink {
   public:
    Op(Sink* next, const OpEnv& env, const SideOps& ops)
        : OpSink(next), f_(ops.f_), ahead_(ops.ahead_), built_(ops.Shared(env.side_path)) {}
    void Push(const void* e) override {
      const auto& x = *static_cast<const std::pair<K, V>*>(e);
      if constexpr (kLooksAhead) {
        // The oldest waiting element leaves the ring before the new one takes its slot; slots
        // are assigned, not rebuilt, so that their values keep their capacity.
        std::pair<K, V>& slot = ring_[head_];
        if (waiting_ == kAhead) {
          Apply(slot);
        } else {
          ++waiting_;
        }
        slot = x;
        ahead_(slot.second, side());
        head_ = (head_ + 1) % kAhead;
      } else {
        Apply(x);
      }
    }
    void Finish() override {
      if constexpr (kLooksAhead) {
        for (int i = kAhead - waiting_; i < kAhead; ++i) Apply(ring_[(head_ + i) % kAhead]);
        waiting_ = 0;
      }
      this->next_->Finish();
    }

   private:
    static constexpr bool kLooksAhead = !std::is_same_v<Ahead, NoAhead>;
    static constexpr int kAhead = kLooksAhead ? 16 : 1;
    const auto& side() const {
      if constexpr (std::is_same_v<Prep, NoPrepare>) {
        return built_->side;
      } else {
        return built_->prepared;
      }
    }
    void Apply(const std::pair<K, V>& x) {
      std::pair<K, W> out(x.first, f_(x.second, side()));
      this->next_->Push(&out);
    }
    F f_;
    Ahead ahead_;
    std::shared_ptr<const Built> built_;
    std::pair<K, V> ring_[kAhead]{};
    int head_ = 0;     // the oldest waiting element once kAhead wait, else the next free slot
    int waiting_ = 0;
  };
  Prep prepare_;
  F f_;
  Ahead ahead_;
  mutable std::mutex build_mu_;
  mutable std::condition_variable built_cv_;
  mutable std::shared_ptr<Building> building_;
  mutable std::shared_ptr<const Built> built_;
  mutable std::string built_path_;
};

}  // namespace sawmill::df::internal
