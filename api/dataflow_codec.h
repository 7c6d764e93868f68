// How dataflow elements (Dataset<T>) become bytes: df::Codec<T> gives every element type an
// order-preserving encoding (memcmp order of the bytes = the values' order), so sorted outputs
// sort by value and range partitioning works for any key type (docs/dataflow.md).
//
// Types with a codec: integers of every width (int64_t encodes as sawmill::EncodeInt64),
// float and double, bool, char, std::string and std::string_view (a last field: its raw bytes),
// and, of types with codecs, std::pair, std::tuple, std::array, std::vector and std::optional;
// user structs through SAWMILL_DF_CODEC below. A type of your own may also specialize
// df::Codec<T> directly: the contract a specialization keeps is at its primary template in
// dataflow/codec.h, which holds the codecs themselves.
#pragma once

#include <string>
#include <string_view>

#include "dataflow/codec.h"

namespace sawmill::df {

// Encodes `v` as a whole buffer (last = true).
template <typename T>
std::string EncodeToString(const T& v) {
  static_assert(kHasCodec<T>, "no sawmill::df::Codec<T>: use a supported type or SAWMILL_DF_CODEC");
  std::string out;
  out.reserve(Codec<T>::kFixedSize);
  Codec<T>::Encode(v, &out, true);
  return out;
}

// Decodes a whole buffer (last = true); false when malformed or when bytes are left over.
template <typename T>
bool DecodeFromString(std::string_view s, T* v) {
  static_assert(kHasCodec<T>, "no sawmill::df::Codec<T>: use a supported type or SAWMILL_DF_CODEC");
  return Codec<T>::Decode(&s, v, true) && s.empty();
}

}  // namespace sawmill::df

// Gives a user struct a codec over the listed fields, in order, so its byte order is the
// lexicographic order of those fields. Use at global namespace scope, after the struct:
//   struct Visit { std::string url; int64_t time; };
//   SAWMILL_DF_CODEC(Visit, &Visit::url, &Visit::time);
// `Type` must not contain a bare comma (use an alias for a template type).
#define SAWMILL_DF_CODEC(Type, ...) \
  template <>                       \
  struct sawmill::df::Codec<Type> : ::sawmill::df::FieldsCodec<Type, __VA_ARGS__> {}
