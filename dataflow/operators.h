// The typed operators behind api/dataflow.h's Dataset methods: element records (Records), the
// narrow operators fused into a stage's tasks (Map, Filter, FlatMap), and the shuffle operators
// (ReduceByKey, GroupByKey, Distinct, SortBy) with their combiners; joins are in
// dataflow/join_operators.h. Templates over the user's element types and functions, so they are
// headers; job authors reach them only through Dataset (docs/dataflow.md).
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "dataflow/codec.h"
#include "dataflow/graph.h"

namespace sawmill::df::internal {

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

// `Emit` is what FlatMap's function calls (df::Emitter<U>), made from the next sink.
template <class In, class Emit, class F>
class FlatMapOp final : public OpSink {
 public:
  FlatMapOp(Sink* next, const F& f) : OpSink(next), f_(f), emit_(next) {}
  void Push(const void* e) override { f_(*static_cast<const In*>(e), emit_); }

 private:
  F f_;
  Emit emit_;
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
  SortByOps(const F& f, bool descending) : f_(f), descending_(descending) {}
  void EncodeMapOutput(int, const void* e, std::string* key, std::string* value) const override {
    const T& x = *static_cast<const T*>(e);
    if (!descending_) {
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
  bool descending_;
};

}  // namespace sawmill::df::internal
