// Ready-made combiners for common aggregations.
#pragma once

#include <cstring>

#include "api/codec.h"
#include "mapreduce/user_code.h"

namespace sawmill {

// Sums values encoded with EncodeInt64 (8 bytes); the counting jobs' combiner. Its fixed-size
// path lets the runtime add in place inside the map-side hash table. A sum outside int64's range
// throws std::overflow_error (AddInt64OrThrow): the task fails naming the key.
class Int64SumCombiner final : public Combiner {
 public:
  void Combine(std::string_view, std::string* acc, std::string_view value) const override {
    char buf[8];
    acc->assign(EncodeInt64(AddInt64OrThrow(DecodeInt64(*acc), DecodeInt64(value)), buf));
  }
  size_t fixed_size() const override { return 8; }
  void CombineFixed(char* acc, const char* value) const override {
    char buf[8];
    EncodeInt64(AddInt64OrThrow(DecodeInt64({acc, 8}), DecodeInt64({value, 8})), buf);
    std::memcpy(acc, buf, 8);
  }
};

}  // namespace sawmill
