// Ready-made reducers for common jobs.
#pragma once

#include "api/codec.h"
#include "mapreduce/user_code.h"

namespace sawmill {

// Emits every value under its key: sorting jobs.
class IdentityReducer final : public Reducer {
 public:
  void Reduce(std::string_view key, ValueIterator& values, TaskContext& ctx) override {
    std::string_view v;
    while (values.Next(&v)) ctx.Emit(key, v);
  }
};

// Sums EncodeInt64 values and emits the total as decimal text: counting jobs. A sum outside
// int64's range throws std::overflow_error (AddInt64OrThrow): the task fails naming the key.
class Int64SumToDecimalReducer final : public Reducer {
 public:
  void Reduce(std::string_view key, ValueIterator& values, TaskContext& ctx) override {
    int64_t sum = 0;
    std::string_view v;
    while (values.Next(&v)) sum = AddInt64OrThrow(sum, DecodeInt64(v));
    ctx.Emit(key, DecimalString(sum));
  }
};

}  // namespace sawmill
