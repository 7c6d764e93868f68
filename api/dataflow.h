// The dataflow API (docs/dataflow.md): typed Dataset<T> pipelines that the planner fuses into
// stages between shuffles and runs on the MapReduce runtime, locally or on a cluster.
//
//   SAWMILL_DATAFLOW_MAIN("wordcount_df: ...", [](df::Flow& flow) {
//     flow.ReadText()
//         .FlatMap<std::string_view>([](std::string_view line, auto& emit) { ... emit(word); })
//         .Map([](std::string_view w) { return std::pair<std::string_view, int64_t>(w, 1); })
//         .ReduceByKey([](int64_t a, int64_t b) { return a + b; })
//         .Write(flow.output());
//   })
//
// Elements are encoded by df::Codec (api/dataflow_codec.h) whenever they cross a shuffle or are
// stored; pairs are keyed datasets (first = key). A std::string_view element (ReadText's lines)
// is valid only during the call that receives it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "api/dataflow_codec.h"
#include "common/status.h"
#include "dataflow/graph.h"
#include "dataflow/side_input.h"

namespace sawmill::df {

using Counters = std::map<std::string, int64_t>;
using internal::JoinHint;

// Adds to a named counter of the running task (summed over tasks, shown in the run's summary,
// and given to Iterate's `until`). No-op outside a task.
inline void Increment(std::string_view counter, int64_t delta = 1) {
  if (TaskContext* ctx = internal::CurrentTaskContext()) ctx->Increment(counter, delta);
}

// What FlatMap's function emits through.
template <class U>
class Emitter {
 public:
  explicit Emitter(internal::Sink* next) : next_(next) {}
  void operator()(const U& u) const { next_->Push(&u); }

 private:
  internal::Sink* next_;
};

enum class Order { kAscending, kDescending };

template <class T>
class Dataset;

namespace internal {

template <class T>
struct IsPair : std::false_type {};
template <class A, class B>
struct IsPair<std::pair<A, B>> : std::true_type {};

template <class T>
struct HasFloat : std::is_floating_point<T> {};
template <class A, class B>
struct HasFloat<std::pair<A, B>> : std::bool_constant<HasFloat<A>::value || HasFloat<B>::value> {};
template <class... Ts>
struct HasFloat<std::tuple<Ts...>> : std::bool_constant<(HasFloat<Ts>::value || ...)> {};
template <class T>
struct HasFloat<std::vector<T>> : HasFloat<T> {};
template <class T>
struct HasFloat<std::optional<T>> : HasFloat<T> {};

// Values kept past the call that produced them own their bytes.
template <class T>
using Owned = std::conditional_t<std::is_same_v<T, std::string_view>, std::string, T>;

template <class T>
struct Records {
  static void Encode(const void* e, std::string* key, std::string* value) {
    const T& x = *static_cast<const T*>(e);
    if constexpr (IsPair<T>::value) {
      Codec<typename T::first_type>::Encode(x.first, key, true);
      Codec<typename T::second_type>::Encode(x.second, value, true);
    } else {
      Codec<T>::Encode(x, value, true);
    }
  }
  static bool DecodeInto(std::string_view key, std::string_view value, T* x) {
    if constexpr (IsPair<T>::value) {
      return Codec<typename T::first_type>::Decode(&key, &x->first, true) && key.empty() &&
             Codec<typename T::second_type>::Decode(&value, &x->second, true) && value.empty();
    } else {
      return key.empty() && Codec<T>::Decode(&value, x, true) && value.empty();
    }
  }
  // Decodes into one element per thread, reused record after record so that its vectors and
  // strings keep their capacity (a push that decodes the same type again gets a fresh one).
  static bool DecodePush(std::string_view key, std::string_view value, Sink* next) {
    thread_local T reused{};
    thread_local bool busy = false;
    if (busy) {
      T x{};
      if (!DecodeInto(key, value, &x)) return false;
      next->Push(&x);
      return true;
    }
    if (!DecodeInto(key, value, &reused)) return false;
    busy = true;
    struct Release {
      ~Release() { busy = false; }
    } release;
    next->Push(&reused);
    return true;
  }
  static RecordCodec Make() {
    static_assert(kHasCodec<T>, "no df::Codec for this element type (declare one with SAWMILL_DF_CODEC)");
    return {&Encode, &DecodePush, IsPair<T>::value};
  }
};

template <class T>
T DecodeOrThrow(std::string_view bytes, bool last, const char* what) {
  T v{};
  if (!Codec<T>::Decode(&bytes, &v, last) || (last && !bytes.empty())) {
    throw std::runtime_error(std::string("malformed ") + what + " in a shuffle or stored dataset");
  }
  return v;
}

template <class In, class U, class F>
class MapOp final : public OpSink {
 public:
  MapOp(Sink* next, const F& f) : OpSink(next), f_(f) {}
  void Push(const void* e) override {
    U out = f_(*static_cast<const In*>(e));
    next_->Push(&out);
  }

 private:
  F f_;
};

template <class In, class F>
class FilterOp final : public OpSink {
 public:
  FilterOp(Sink* next, const F& f) : OpSink(next), f_(f) {}
  void Push(const void* e) override {
    if (f_(*static_cast<const In*>(e))) next_->Push(e);
  }

 private:
  F f_;
};

template <class In, class U, class F>
class FlatMapOp final : public OpSink {
 public:
  FlatMapOp(Sink* next, const F& f) : OpSink(next), f_(f), emit_(next) {}
  void Push(const void* e) override { f_(*static_cast<const In*>(e), emit_); }

 private:
  F f_;
  Emitter<U> emit_;
};

class PassOp final : public OpSink {
 public:
  using OpSink::OpSink;
  void Push(const void* e) override { next_->Push(e); }
};

template <class V, class F>
class FoldCombiner final : public Combiner {
 public:
  explicit FoldCombiner(const F& f) : f_(f) {}
  void Combine(std::string_view, std::string* acc, std::string_view value) const override {
    V a = DecodeOrThrow<V>(*acc, true, "value"), b = DecodeOrThrow<V>(value, true, "value");
    V r = f_(a, b);
    acc->clear();
    Codec<V>::Encode(r, acc, true);
  }
  size_t fixed_size() const override { return Codec<V>::kFixedSize; }
  void CombineFixed(char* acc, const char* value) const override {
    constexpr size_t n = Codec<V>::kFixedSize;
    std::string_view sa(acc, n), sb(value, n);
    V a{}, b{};
    Codec<V>::Decode(&sa, &a, true);  // n bytes always decode
    Codec<V>::Decode(&sb, &b, true);
    if constexpr (requires(const V& v, char* p) { Codec<V>::EncodeFixed(v, p); }) {
      Codec<V>::EncodeFixed(f_(a, b), acc);
    } else {
      std::string out;  // n bytes: within the string's inline buffer, no allocation
      Codec<V>::Encode(f_(a, b), &out, true);
      std::memcpy(acc, out.data(), n);
    }
  }

 private:
  F f_;
};

template <class K, class V, class F>
class ReduceByKeyOps final : public ShuffleOps {
 public:
  explicit ReduceByKeyOps(const F& f) : f_(f) {}
  void EncodeMapOutput(int, const void* e, std::string* key, std::string* value) const override {
    Records<std::pair<K, V>>::Encode(e, key, value);
  }
  std::unique_ptr<Sink> NewMapSink(int, TaskContext* ctx) const override { return std::make_unique<MapSink>(ctx); }
  std::unique_ptr<Combiner> NewCombiner() const override { return std::make_unique<FoldCombiner<V, F>>(f_); }
  void Reduce(std::string_view key, ValueIterator& values, Sink* next) const override {
    std::pair<K, V> out{DecodeOrThrow<K>(key, true, "key"), V{}};
    std::string_view v;
    values.Next(&v);
    out.second = DecodeOrThrow<V>(v, true, "value");
    while (values.Next(&v)) out.second = f_(out.second, DecodeOrThrow<V>(v, true, "value"));
    next->Push(&out);
  }
  bool key_partitioned() const override { return true; }
  bool inexact_fold() const override { return HasFloat<V>::value; }
  bool dense_keys() const override {
    return std::is_integral_v<K> && std::is_unsigned_v<K> && sizeof(K) == 8 && Codec<V>::kFixedSize > 0;
  }

 private:
  // Emits (key, value) records without copying a string key (a last string is its own encoding).
  class MapSink final : public Sink {
   public:
    explicit MapSink(TaskContext* ctx) : ctx_(ctx) {}
    void Push(const void* e) override {
      const auto& x = *static_cast<const std::pair<K, V>*>(e);
      std::string_view value;
      char fixed[16];
      if constexpr (requires(const V& v, char* p) { Codec<V>::EncodeFixed(v, p); }) {
        static_assert(Codec<V>::kFixedSize <= sizeof fixed);
        Codec<V>::EncodeFixed(x.second, fixed);
        value = std::string_view(fixed, Codec<V>::kFixedSize);
      } else {
        value_.clear();
        Codec<V>::Encode(x.second, &value_, true);
        value = value_;
      }
      if constexpr (std::is_same_v<K, std::string_view> || std::is_same_v<K, std::string>) {
        ctx_->Emit(x.first, value);
      } else {
        key_.clear();
        Codec<K>::Encode(x.first, &key_, true);
        ctx_->Emit(key_, value);
      }
    }

   private:
    TaskContext* ctx_;
    std::string key_, value_;
  };

  F f_;
};

// A list's encoding (df::Codec of a last std::vector) is its elements' concatenated, so map-side
// combining of GroupByKey's one-element lists is an append.
class AppendCombiner final : public Combiner {
 public:
  void Combine(std::string_view, std::string* acc, std::string_view value) const override { acc->append(value); }
  bool appends() const override { return true; }
};

template <class K, class V>
class GroupByKeyOps final : public ShuffleOps {
 public:
  using List = std::vector<Owned<V>>;
  void EncodeMapOutput(int, const void* e, std::string* key, std::string* value) const override {
    const auto& x = *static_cast<const std::pair<K, V>*>(e);
    Codec<K>::Encode(x.first, key, true);
    value->push_back('\1');  // one element of a list
    Codec<V>::Encode(x.second, value, false);
  }
  std::unique_ptr<Combiner> NewCombiner() const override { return std::make_unique<AppendCombiner>(); }
  bool dense_keys() const override { return std::is_integral_v<K> && std::is_unsigned_v<K> && sizeof(K) == 8; }
  void Reduce(std::string_view key, ValueIterator& values, Sink* next) const override {
    std::pair<K, List> out{DecodeOrThrow<K>(key, true, "key"), {}};
    std::string_view v;
    List part;
    while (values.Next(&v)) {
      part = DecodeOrThrow<List>(v, true, "value list");
      if (out.second.empty()) {
        out.second = std::move(part);
      } else {
        for (auto& e : part) out.second.push_back(std::move(e));
      }
    }
    next->Push(&out);
  }
  bool key_partitioned() const override { return true; }
};

// Keeps the first value of a key: map-side deduplication.
class KeepFirstCombiner final : public Combiner {
 public:
  void Combine(std::string_view, std::string*, std::string_view) const override {}
};

template <class T>
class DistinctOps final : public ShuffleOps {
 public:
  void EncodeMapOutput(int, const void* e, std::string* key, std::string*) const override {
    Codec<T>::Encode(*static_cast<const T*>(e), key, true);
  }
  std::unique_ptr<Combiner> NewCombiner() const override { return std::make_unique<KeepFirstCombiner>(); }
  void Reduce(std::string_view key, ValueIterator&, Sink* next) const override {
    T out = DecodeOrThrow<T>(key, true, "element");
    next->Push(&out);
  }
};

template <class T, class SK, class F>
class SortByOps final : public ShuffleOps {
 public:
  SortByOps(const F& f, Order order) : f_(f), order_(order) {}
  void EncodeMapOutput(int, const void* e, std::string* key, std::string* value) const override {
    const T& x = *static_cast<const T*>(e);
    if (order_ == Order::kAscending) {
      Codec<SK>::Encode(f_(x), key, true);
    } else {
      // A prefix-free encoding with every byte complemented sorts in reverse.
      Codec<SK>::Encode(f_(x), key, false);
      for (char& c : *key) c = static_cast<char>(~c);
    }
    Codec<T>::Encode(x, value, true);
  }
  void Reduce(std::string_view, ValueIterator& values, Sink* next) const override {
    std::string_view v;
    while (values.Next(&v)) {
      T x = DecodeOrThrow<T>(v, true, "element");
      next->Push(&x);
    }
  }
  bool total_order() const override { return true; }

 private:
  F f_;
  Order order_;
};

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
      if (!started_ || key_ != group_key_) {
        if (started_ && key_ < group_key_) throw std::runtime_error("co-partitioned join: left input is not sorted by key");
        started_ = true;
        group_key_ = key_;
        size_ = 0;
        while (right_.valid() && right_.key() < key_) right_.Next();
        for (; right_.valid() && right_.key() == key_; right_.Next()) {
          if (group_.size() == size_) group_.emplace_back();
          group_[size_++].assign(right_.value());
        }
      }
      for (size_t i = 0; i < size_; ++i) this->EmitPair(x, &group_[i]);
      if (kind == JoinKind::kLeft && size_ == 0) this->EmitPair(x, nullptr);
    }

   private:
    SortedPartReader right_;
    std::string key_, group_key_;
    std::vector<std::string> group_;  // the first size_ hold the right values of group_key_
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

// MapValuesWith without a prepare step: f gets the side's elements themselves.
struct NoPrepare {};

// MapValuesWith: a broadcast side input, decoded once per map task into a vector (and, with
// `prepare`, turned into whatever the calls need, e.g. an index), given to every call.
template <class K, class V, class S, class W, class Prep, class F>
class SideOps final : public JoinOps {
 public:
  SideOps(const Prep& prepare, const F& f) : prepare_(prepare), f_(f) {}
  void EncodeMapOutput(int, const void*, std::string*, std::string*) const override {
    throw std::logic_error("MapValuesWith runs map-side only");
  }
  void Reduce(std::string_view, ValueIterator&, Sink*) const override {
    throw std::logic_error("MapValuesWith runs map-side only");
  }
  bool keeps_right_unmatched() const override { return false; }
  std::unique_ptr<Sink> NewMapSideOp(JoinMode, Sink* next, const OpEnv& env) const override {
    return std::make_unique<Op>(next, env, prepare_, f_);
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
  class Op final : public OpSink {
   public:
    Op(Sink* next, const OpEnv& env, const Prep& prepare, const F& f) : OpSink(next), f_(f) {
      Collect collect(&side_);
      auto decode = [&](std::string_view k, std::string_view v) {
        if (!Records<S>::DecodePush(k, v, &collect)) throw std::runtime_error("malformed record in a side input");
      };
      if constexpr (HasView<S>::value) {
        records_ = LoadSideRecords(env.side_path);  // kept: the elements' views point into them
        for (const auto& [k, v] : records_) decode(k, v);
      } else {
        ForEachSideRecord(env.side_path, decode);
      }
      prepared_ = Prepared(prepare, side_);
    }
    void Push(const void* e) override {
      const auto& x = *static_cast<const std::pair<K, V>*>(e);
      if constexpr (std::is_same_v<Prep, NoPrepare>) {
        std::pair<K, W> out(x.first, f_(x.second, side_));
        next_->Push(&out);
      } else {
        std::pair<K, W> out(x.first, f_(x.second, prepared_));
        next_->Push(&out);
      }
    }

   private:
    F f_;
    std::vector<std::pair<std::string, std::string>> records_;
    std::vector<S> side_;
    decltype(Prepared(std::declval<const Prep&>(), std::declval<const std::vector<S>&>())) prepared_{};
  };
  Prep prepare_;
  F f_;
};

}  // namespace internal

struct IterateOptions {
  // Called after each iteration with its number (from 0) and the counters of its tasks; true
  // stops the loop early.
  std::function<bool(int iteration, const Counters& counters)> until;
  // Every k iterations the iteration's result is also written durably (replicated in the file
  // store on a cluster) and a lost intermediate is recomputed from there; 0: never.
  int checkpoint_every = 0;
};

// A distributed collection of T, built lazily: nothing runs until the program returns.
template <class T>
class Dataset {
 public:
  Dataset() = default;

  template <class F>
  auto Map(F f) const {
    using U = std::decay_t<std::invoke_result_t<F&, const T&>>;
    return Narrow<U>("Map", false, [f](internal::Sink* next, const internal::OpEnv&) {
      return std::make_unique<internal::MapOp<T, U, F>>(next, f);
    });
  }
  template <class F>
  Dataset<T> Filter(F f) const {
    return Narrow<T>("Filter", true, [f](internal::Sink* next, const internal::OpEnv&) {
      return std::make_unique<internal::FilterOp<T, F>>(next, f);
    });
  }
  // f(const T&, Emitter<U>& emit) calls emit(u) any number of times.
  template <class U, class F>
  Dataset<U> FlatMap(F f) const {
    return Narrow<U>("FlatMap", false, [f](internal::Sink* next, const internal::OpEnv&) {
      return std::make_unique<internal::FlatMapOp<T, U, F>>(next, f);
    });
  }

  // --- keyed datasets (T = std::pair<K, V>) ---

  // The values of each key folded by f(V, V) -> V (associative), before the shuffle too.
  template <class F>
  Dataset<T> ReduceByKey(F f, int partitions = 0) const {
    using K = typename T::first_type;
    using V = typename T::second_type;
    static_assert(!std::is_same_v<V, std::string_view>, "ReduceByKey: fold std::string values, not views");
    return Shuffle<T>("ReduceByKey", partitions, std::make_shared<internal::ReduceByKeyOps<K, V, F>>(f));
  }
  // (key, every value of the key): values in input order.
  auto GroupByKey(int partitions = 0) const {
    using K = typename T::first_type;
    using V = typename T::second_type;
    using Out = std::pair<K, std::vector<internal::Owned<V>>>;
    return Shuffle<Out>("GroupByKey", partitions, std::make_shared<internal::GroupByKeyOps<K, V>>());
  }
  // f(value) or f(key, value) -> W: (key, W), keys (and so partitioning) unchanged.
  template <class F>
  auto MapValues(F f) const {
    using K = typename T::first_type;
    using V = typename T::second_type;
    constexpr bool with_key = std::is_invocable_v<F&, const K&, const V&>;
    auto call = [f](const T& x) mutable {
      if constexpr (with_key) {
        return f(x.first, x.second);
      } else {
        return f(x.second);
      }
    };
    using W = std::decay_t<std::invoke_result_t<decltype(call)&, const T&>>;
    auto g = [call](const T& x) mutable { return std::pair<K, W>(x.first, call(x)); };
    return Narrow<std::pair<K, W>>("MapValues", true, [g](internal::Sink* next, const internal::OpEnv&) {
      return std::make_unique<internal::MapOp<T, std::pair<K, W>, decltype(g)>>(next, g);
    });
  }
  // f(value, side) -> W with `side` the whole of a small dataset (every element, in order; read
  // once per map task): for globals such as counts and sums computed by an earlier stage.
  template <class S, class F>
  auto MapValuesWith(const Dataset<S>& side, F f) const {
    using W = std::decay_t<std::invoke_result_t<F&, const typename T::second_type&, const std::vector<S>&>>;
    return WithSide<S, W>(side, internal::NoPrepare{}, f);
  }
  // As above, with prepare(side) -> X run once per map task and f(value, const X&) -> W for each
  // element: for an index over a larger side (e.g. a vector by id, a hash map).
  template <class S, class P, class F>
  auto MapValuesWith(const Dataset<S>& side, P prepare, F f) const {
    using X = std::decay_t<std::invoke_result_t<P&, const std::vector<S>&>>;
    using W = std::decay_t<std::invoke_result_t<F&, const typename T::second_type&, const X&>>;
    return WithSide<S, W>(side, prepare, f);
  }
  // Inner join on the key: (k, (v, w)) for every pair of rows with equal keys. Without a hint,
  // co-partitioned inputs (outputs of shuffles with the same partition count, keys kept) are
  // merged part by part without a shuffle, others are joined reduce-side; kBroadcast loads
  // `other` whole into every map task.
  template <class R>
  auto Join(const Dataset<R>& other, JoinHint hint = JoinHint::kAuto, int partitions = 0) const {
    return JoinWith<R, internal::JoinKind::kInner>("Join", other, hint, partitions);
  }
  // Left outer join: (k, (v, optional w)).
  template <class R>
  auto LeftJoin(const Dataset<R>& other, JoinHint hint = JoinHint::kAuto, int partitions = 0) const {
    return JoinWith<R, internal::JoinKind::kLeft>("LeftJoin", other, hint, partitions);
  }

  // --- any dataset ---

  // Globally sorted by key_of(x) (range-partitioned: part i's keys precede part i+1's); equal
  // keys keep their input order.
  template <class F>
  Dataset<T> SortBy(F key_of, Order order = Order::kAscending, int partitions = 0) const {
    using SK = std::decay_t<std::invoke_result_t<F&, const T&>>;
    return Shuffle<T>("SortBy", partitions, std::make_shared<internal::SortByOps<T, SK, F>>(key_of, order));
  }
  Dataset<T> Distinct(int partitions = 0) const {
    return Shuffle<T>("Distinct", partitions, std::make_shared<internal::DistinctOps<T>>());
  }
  Dataset<T> Union(const Dataset<T>& other) const {
    auto n = node_->graph->Add(internal::NodeKind::kUnion, "Union", {node_, other.node_},
                               internal::Records<T>::Make());
    n->make_op = [](internal::Sink* next, const internal::OpEnv&) { return std::make_unique<internal::PassOp>(next); };
    return Dataset<T>(n);
  }
  // Writes the dataset as a directory of record files (pairs as (key, value) records, other
  // elements as ("", element)), replacing it with --overwrite.
  void Write(const std::string& path) const {
    auto n = node_->graph->Add(internal::NodeKind::kWrite, "Write", {node_}, internal::Records<T>::Make());
    n->path = path;
    n->keeps_keys = true;
    n->make_op = [](internal::Sink* next, const internal::OpEnv&) { return std::make_unique<internal::PassOp>(next); };
    node_->graph->AddWrite(n);
  }

  const internal::NodePtr& node() const { return node_; }
  explicit Dataset(internal::NodePtr n) : node_(std::move(n)) {}

 private:
  template <class U, class Make>
  Dataset<U> Narrow(const char* op, bool keeps_keys, Make make) const {
    auto n = node_->graph->Add(internal::NodeKind::kNarrow, op, {node_}, internal::Records<U>::Make());
    n->make_op = std::move(make);
    n->keeps_keys = keeps_keys;
    return Dataset<U>(n);
  }
  template <class U>
  Dataset<U> Shuffle(const char* op, int partitions, std::shared_ptr<const internal::ShuffleOps> ops) const {
    auto n = node_->graph->Add(internal::NodeKind::kShuffle, op, {node_}, internal::Records<U>::Make());
    n->shuffle = std::move(ops);
    n->partitions = partitions;
    return Dataset<U>(n);
  }
  template <class S, class W, class P, class F>
  auto WithSide(const Dataset<S>& side, const P& prepare, const F& f) const {
    using K = typename T::first_type;
    using V = typename T::second_type;
    using Ops = internal::SideOps<K, V, S, W, P, F>;
    auto n = node_->graph->Add(internal::NodeKind::kJoin, "MapValuesWith", {node_, side.node()},
                               internal::Records<std::pair<K, W>>::Make());
    n->join = std::make_shared<Ops>(prepare, f);
    n->join_hint = JoinHint::kBroadcast;
    n->keeps_keys = true;
    return Dataset<std::pair<K, W>>(n);
  }
  template <class R, internal::JoinKind kind>
  auto JoinWith(const char* op, const Dataset<R>& other, JoinHint hint, int partitions) const {
    static_assert(internal::IsPair<T>::value && internal::IsPair<R>::value, "joins take keyed datasets (pairs)");
    using K = typename T::first_type;
    using V = typename T::second_type;
    using W = typename R::second_type;
    static_assert(std::is_same_v<K, typename R::first_type>, "joined datasets must have the same key type");
    using Ops = internal::JoinOpsImpl<K, V, W, kind>;
    using Out = typename Ops::Out;
    auto n = node_->graph->Add(internal::NodeKind::kJoin, op, {node_, other.node()}, internal::Records<Out>::Make());
    n->join = std::make_shared<Ops>();
    n->join_hint = hint;
    n->partitions = partitions;
    return Dataset<Out>(n);
  }

  internal::NodePtr node_;
};

// The program's handle: its inputs, and the common flags' values.
class Flow {
 public:
  struct Options {
    std::vector<std::string> inputs;  // --input
    std::string output;               // --output
    int partitions = 1;               // --reducers: shuffles' default partition count
  };
  Flow(internal::Graph* graph, Options options) : graph_(graph), options_(std::move(options)) {}

  const std::vector<std::string>& inputs() const { return options_.inputs; }
  const std::string& output() const { return options_.output; }
  int partitions() const { return options_.partitions; }

  // The lines of text files (without '\n'); --input when `paths` is empty.
  Dataset<std::string_view> ReadText(std::vector<std::string> paths = {}) {
    return Source<std::string_view>("ReadText", paths.empty() ? options_.inputs : std::move(paths), true);
  }
  // The records of record files (a job's output directory), decoded as (K, V).
  template <class K, class V>
  Dataset<std::pair<K, V>> ReadRecords(std::vector<std::string> paths = {}) {
    return Source<std::pair<K, V>>("ReadRecords", paths.empty() ? options_.inputs : std::move(paths), false);
  }

  // body applied `iterations` times to `init` (fewer when options.until says stop). Between
  // iterations the dataset stays on local disks (replication 1 on a cluster) and is recomputed
  // from its lineage if lost. Datasets the body reads from outside it are computed once.
  template <class T, class Body>
  Dataset<T> Iterate(const Dataset<T>& init, int iterations, Body body, IterateOptions options = {}) {
    if (graph_->in_loop_body) throw std::invalid_argument("Iterate: nested loops are not supported");
    Dataset<T> start = init;
    if (init.node()->kind == internal::NodeKind::kSource) start = init.Map([](const T& x) { return x; });
    auto var = graph_->Add(internal::NodeKind::kLoopVar, "LoopInput", {}, internal::Records<T>::Make());
    graph_->in_loop_body = true;
    Dataset<T> result = body(Dataset<T>(var));
    graph_->in_loop_body = false;
    auto loop = graph_->Add(internal::NodeKind::kLoop, "Iterate", {start.node()}, internal::Records<T>::Make());
    loop->loop_var = var;
    loop->loop_result = result.node();
    loop->iterations = iterations;
    loop->checkpoint_every = options.checkpoint_every;
    loop->until = options.until;
    return Dataset<T>(loop);
  }

 private:
  template <class T>
  Dataset<T> Source(const char* op, std::vector<std::string> paths, bool text) {
    auto n = graph_->Add(internal::NodeKind::kSource, op, {}, internal::Records<T>::Make());
    n->inputs = std::move(paths);
    n->text = text;
    return Dataset<T>(n);
  }

  internal::Graph* graph_;
  Options options_;
};

using Program = std::function<void(Flow&)>;

// What a run reports (RunDataflow; the binary prints it as its summary line).
struct RunReport {
  bool ok = false;
  int exit_code = 1;  // 0 ok, 2 bad usage or input, 1 failure
  std::string error;
  int stages_run = 0;          // jobs run, counting each loop iteration's
  int shuffle_stages_run = 0;
  int iterations = 0;          // of the last loop
  int recomputed_stages = 0;   // rerun because an intermediate they had written was lost
  int intermediates = 0;            // datasets materialized between stages (not the writes)
  uint64_t intermediate_bytes = 0;  // their bytes
  uint64_t records_out = 0, bytes_out = 0;  // of the writes
  double seconds = 0;
  double loop_seconds = 0;     // spent in loops (their iterations' stages)
  Counters counters;           // user counters, summed
};

struct RunOptions {
  int threads = 2;
  size_t memory_mb = 512;
  int partitions = 1;
  bool overwrite = false;
  uint64_t split_bytes = 64 << 20;
  size_t block_kb = 64;
  uint64_t seed = 0;
  std::string tmp_dir;  // intermediates (default: $TMPDIR or /tmp)
  std::vector<std::string> inputs;
  std::string output;
};

// Runs a program in this process (local mode), e.g. from a test.
RunReport RunDataflow(const Program& program, const RunOptions& options);
// The plan --explain prints; kInvalidArgument when the planner refuses the program.
Result<std::string> ExplainDataflow(const Program& program, const RunOptions& options);

// The main() of a dataflow job binary: the common job flags plus --explain; runs locally or,
// with --cluster, submits each stage to the coordinator.
int RunDataflowMain(int argc, char** argv, const char* usage, const Program& program);

}  // namespace sawmill::df

#define SAWMILL_DATAFLOW_MAIN(usage, program)                      \
  int main(int argc, char** argv) {                                \
    return ::sawmill::df::RunDataflowMain(argc, argv, usage, program); \
  }
