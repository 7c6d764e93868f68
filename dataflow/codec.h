// Typed records of the dataflow API (Dataset<T>) as the key/value bytes of the MapReduce runtime:
// order-preserving (memcmp order = operator< order), self-delimiting encodings that compose.
// The format and its codecs; job authors include api/dataflow_codec.h (the types covered, and
// SAWMILL_DF_CODEC for their structs), which includes this.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace sawmill::df {

// Codec<T> turns a T into bytes and back. The primary template is left undefined: a type without
// a specialization has no codec (kHasCodec<T> is false). Each specialization provides
//   static void Encode(const T& v, std::string* out, bool last);  // appends to *out
//   static bool Decode(std::string_view* in, T* v, bool last);     // consumes from the front of
//       *in; false on malformed or truncated input, never reading outside *in
//   static constexpr size_t kFixedSize;  // the size of every encoding, or 0 when it varies
// `last` means the field ends its buffer (a whole record key or value, or the final element of a
// tuple that is itself last), so it may run to the end of the buffer without a delimiter.
// Guarantees, for every type: decoding gives back the encoded value; memcmp order of encodings
// (shorter first on a common prefix) is the order of the values, for last and non-last alike;
// non-last encodings are prefix-free, so a tuple is its elements' encodings concatenated.
// `Enable` lets a specialization cover a family of types with std::enable_if_t.
template <typename T, typename Enable = void>
struct Codec;

// True when Codec<T> is specialized; for static_asserts in the dataflow API.
template <typename T>
inline constexpr bool kHasCodec = requires {
  Codec<T>::kFixedSize;
};

namespace internal {

// Big-endian so that memcmp of the bytes compares the unsigned values. Byte swaps of whole
// words: these run per element on every shuffle and combine.
template <typename U>
inline U ToBigEndian(U u) {
  if constexpr (sizeof(U) == 8) return __builtin_bswap64(u);
  if constexpr (sizeof(U) == 4) return __builtin_bswap32(u);
  if constexpr (sizeof(U) == 2) return __builtin_bswap16(u);
  return u;
}
template <typename U>
inline void PutBigEndian(U u, std::string* out) {
  U be = ToBigEndian(u);
  out->append(reinterpret_cast<const char*>(&be), sizeof(U));
}
template <typename U>
inline bool GetBigEndian(std::string_view* in, U* u) {
  if (in->size() < sizeof(U)) return false;
  U be;
  std::memcpy(&be, in->data(), sizeof(U));
  in->remove_prefix(sizeof(U));
  *u = ToBigEndian(be);
  return true;
}

// Reads one byte that must be 0 or 1 (bool, optional and vector markers); anything else is
// malformed, which keeps each value to exactly one encoding.
inline bool GetFlag(std::string_view* in, bool* flag) {
  if (in->empty() || static_cast<uint8_t>(in->front()) > 1) return false;
  *flag = in->front() != 0;
  in->remove_prefix(1);
  return true;
}

// Non-last strings: 0x00 becomes 0x00 0xFF and the end is 0x00 0x01. The end marker sorts below
// any continuation (00 FF, or a byte >= 01), so a string sorts before the strings it prefixes,
// and since 00 01 never occurs inside the content the encoding is prefix-free.
inline void PutEscaped(std::string_view s, std::string* out) {
  size_t pos = 0;
  for (size_t z; (z = s.find('\0', pos)) != std::string_view::npos; pos = z + 1) {
    out->append(s.data() + pos, z - pos);
    out->append("\0\xff", 2);
  }
  out->append(s.data() + pos, s.size() - pos);
  out->append("\0\x01", 2);
}
// Appends the unescaped content of a non-last string at the front of `in` to *out; returns the
// bytes it spans (terminator included), or npos when the terminator is missing or malformed.
inline size_t GetEscaped(std::string_view in, std::string* out) {
  for (size_t pos = 0;;) {
    size_t z = in.find('\0', pos);
    if (z == std::string_view::npos || z + 1 >= in.size()) return std::string_view::npos;
    out->append(in.data() + pos, z - pos);
    if (in[z + 1] == '\x01') return z + 2;
    if (in[z + 1] != '\xff') return std::string_view::npos;
    out->push_back('\0');
    pos = z + 2;
  }
}

// Where a decoded string_view with escapes keeps its unescaped bytes: a view cannot own them.
// A ring per thread; a view stays valid until kScratchSlots more such decodes on that thread.
inline constexpr size_t kScratchSlots = 16;
inline std::string* NextScratch() {
  thread_local std::array<std::string, kScratchSlots> ring;
  thread_local size_t next = 0;
  std::string* s = &ring[next++ % kScratchSlots];
  s->clear();
  return s;
}

// The string codecs: `last` writes raw bytes (a string key is byte-identical to one written by a
// plain MapReduce job), non-last escapes and terminates.
struct StringCodecBase {
  static constexpr size_t kFixedSize = 0;
  static void Encode(std::string_view v, std::string* out, bool last) {
    if (!last) return PutEscaped(v, out);
    out->append(v);
  }
};

// Fields encoded in sequence, all non-last but the final one, which inherits `last`: tuples,
// pairs and user structs. Order is lexicographic because non-last encodings are prefix-free, so
// the first differing field decides before the next field's bytes start.
template <typename... Ts>
struct SeqCodec {
  static_assert((kHasCodec<Ts> && ...), "every field needs a sawmill::df::Codec");
  static constexpr size_t kFixedSize =
      ((Codec<Ts>::kFixedSize > 0) && ...) ? (Codec<Ts>::kFixedSize + ... + 0) : 0;
  // `last && ++i == n` is true for the final field alone, and only when `last`. [[maybe_unused]]
  // because the empty tuple touches neither buffer nor counter.
  static void Encode([[maybe_unused]] std::string* out, bool last, const Ts&... vs) {
    [[maybe_unused]] size_t i = 0;
    (Codec<Ts>::Encode(vs, out, last && ++i == sizeof...(Ts)), ...);
  }
  static bool Decode([[maybe_unused]] std::string_view* in, bool last, Ts*... vs) {
    [[maybe_unused]] size_t i = 0;
    return (Codec<Ts>::Decode(in, vs, last && ++i == sizeof...(Ts)) && ...);
  }
};

template <auto Field>
struct FieldOf;
template <typename S, typename M, M S::*Field>
struct FieldOf<Field> {
  using Type = M;
};

}  // namespace internal

// Integers of every width and signedness (int64_t, long long, size_t, char16_t...): big-endian of
// their own width, sign bit flipped for signed types so negatives sort first. int64_t encodes
// exactly like sawmill::EncodeInt64 (api/codec.h), so dataflow and MapReduce jobs agree.
template <typename T>
struct Codec<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                 !std::is_same_v<T, char>>> {
  using U = std::make_unsigned_t<T>;
  static constexpr U kFlip = std::is_signed_v<T> ? static_cast<U>(U{1} << (8 * sizeof(T) - 1)) : 0;
  static constexpr size_t kFixedSize = sizeof(T);
  static void Encode(const T& v, std::string* out, bool) {
    internal::PutBigEndian(static_cast<U>(static_cast<U>(v) ^ kFlip), out);
  }
  // The kFixedSize bytes Encode appends, written in place (map-side folds).
  static void EncodeFixed(const T& v, char* out) {
    U be = internal::ToBigEndian(static_cast<U>(static_cast<U>(v) ^ kFlip));
    std::memcpy(out, &be, sizeof be);
  }
  static bool Decode(std::string_view* in, T* v, bool) {
    U u;
    if (!internal::GetBigEndian(in, &u)) return false;
    *v = static_cast<T>(static_cast<U>(u ^ kFlip));
    return true;
  }
};

template <>
struct Codec<bool> {
  static constexpr size_t kFixedSize = 1;
  static void Encode(const bool& v, std::string* out, bool) { out->push_back(v ? '\1' : '\0'); }
  static bool Decode(std::string_view* in, bool* v, bool) { return internal::GetFlag(in, v); }
};

// char is one byte as unsigned, the order std::string compares its characters in. Where char is
// signed this differs from the built-in `<` on chars for bytes >= 0x80.
template <>
struct Codec<char> {
  static constexpr size_t kFixedSize = 1;
  static void Encode(const char& v, std::string* out, bool) { out->push_back(v); }
  static bool Decode(std::string_view* in, char* v, bool) {
    if (in->empty()) return false;
    *v = in->front();
    in->remove_prefix(1);
    return true;
  }
};

// float and double: IEEE bits made order-preserving (negative: flip all bits, so larger
// magnitudes sort first; otherwise flip the sign bit), big-endian. Bits round-trip exactly.
// Unlike operator<, the bytes order -0.0 before +0.0, and NaNs with the sign bit clear (the usual
// quiet NaN) after +inf; NaNs with it set sort before -inf.
template <typename T>
struct Codec<T, std::enable_if_t<std::is_same_v<T, float> || std::is_same_v<T, double>>> {
  using U = std::conditional_t<sizeof(T) == 8, uint64_t, uint32_t>;
  static constexpr U kSign = U{1} << (8 * sizeof(T) - 1);
  static constexpr size_t kFixedSize = sizeof(T);
  static void Encode(const T& v, std::string* out, bool) {
    U u;
    std::memcpy(&u, &v, sizeof u);
    internal::PutBigEndian(static_cast<U>((u & kSign) ? ~u : (u ^ kSign)), out);
  }
  static void EncodeFixed(const T& v, char* out) {
    U u;
    std::memcpy(&u, &v, sizeof u);
    U be = internal::ToBigEndian(static_cast<U>((u & kSign) ? ~u : (u ^ kSign)));
    std::memcpy(out, &be, sizeof be);
  }
  static bool Decode(std::string_view* in, T* v, bool) {
    U u;
    if (!internal::GetBigEndian(in, &u)) return false;
    u = (u & kSign) ? (u ^ kSign) : static_cast<U>(~u);
    std::memcpy(v, &u, sizeof u);
    return true;
  }
};

template <>
struct Codec<std::string> : internal::StringCodecBase {
  static bool Decode(std::string_view* in, std::string* v, bool last) {
    v->clear();
    if (last) {
      v->assign(*in);
      in->remove_prefix(in->size());
      return true;
    }
    size_t n = internal::GetEscaped(*in, v);
    if (n == std::string_view::npos) return false;
    in->remove_prefix(n);
    return true;
  }
};

// Decoded views point into the input buffer, except a non-last field holding 0x00 bytes: that
// one points into the thread's scratch ring (see NextScratch) and must be copied to be kept long.
template <>
struct Codec<std::string_view> : internal::StringCodecBase {
  static bool Decode(std::string_view* in, std::string_view* v, bool last) {
    if (last) {
      *v = *in;
      in->remove_prefix(in->size());
      return true;
    }
    size_t z = in->find('\0');
    if (z != std::string_view::npos && z + 1 < in->size() && (*in)[z + 1] == '\x01') {
      *v = in->substr(0, z);  // no escapes: the common case costs no copy
      in->remove_prefix(z + 2);
      return true;
    }
    std::string* scratch = internal::NextScratch();
    size_t n = internal::GetEscaped(*in, scratch);
    if (n == std::string_view::npos) return false;
    *v = *scratch;
    in->remove_prefix(n);
    return true;
  }
};

template <typename A, typename B>
struct Codec<std::pair<A, B>, std::enable_if_t<kHasCodec<A> && kHasCodec<B>>> {
  using Seq = internal::SeqCodec<A, B>;
  static constexpr size_t kFixedSize = Seq::kFixedSize;
  static void Encode(const std::pair<A, B>& v, std::string* out, bool last) {
    Seq::Encode(out, last, v.first, v.second);
  }
  static bool Decode(std::string_view* in, std::pair<A, B>* v, bool last) {
    return Seq::Decode(in, last, &v->first, &v->second);
  }
};

// The empty tuple encodes to no bytes.
template <typename... Ts>
struct Codec<std::tuple<Ts...>, std::enable_if_t<(kHasCodec<Ts> && ...)>> {
  using Seq = internal::SeqCodec<Ts...>;
  static constexpr size_t kFixedSize = Seq::kFixedSize;
  static void Encode(const std::tuple<Ts...>& v, std::string* out, bool last) {
    std::apply([&](const Ts&... e) { Seq::Encode(out, last, e...); }, v);
  }
  static bool Decode(std::string_view* in, std::tuple<Ts...>* v, bool last) {
    return std::apply([&](Ts&... e) { return Seq::Decode(in, last, &e...); }, *v);
  }
};

template <typename T, size_t N>
struct Codec<std::array<T, N>, std::enable_if_t<kHasCodec<T>>> {
  static constexpr size_t kFixedSize = N * Codec<T>::kFixedSize;
  static void Encode(const std::array<T, N>& v, std::string* out, bool last) {
    for (size_t i = 0; i < N; ++i) Codec<T>::Encode(v[i], out, last && i + 1 == N);
  }
  static bool Decode(std::string_view* in, std::array<T, N>* v, bool last) {
    for (size_t i = 0; i < N; ++i) {
      if (!Codec<T>::Decode(in, &(*v)[i], last && i + 1 == N)) return false;
    }
    return true;
  }
};

// Each element is 0x01 then its non-last encoding; non-last vectors end with 0x00, which sorts a
// vector before its extensions. A last vector ends with the buffer instead (shorter sorts first
// under memcmp too), so it needs no end marker.
template <typename T>
struct Codec<std::vector<T>, std::enable_if_t<kHasCodec<T>>> {
  static constexpr size_t kFixedSize = 0;
  static void Encode(const std::vector<T>& v, std::string* out, bool last) {
    for (const T& e : v) {
      out->push_back('\1');
      Codec<T>::Encode(e, out, false);
    }
    if (!last) out->push_back('\0');
  }
  static bool Decode(std::string_view* in, std::vector<T>* v, bool last) {
    v->clear();
    if constexpr (Codec<T>::kFixedSize > 0 && !std::is_same_v<T, bool>) {  // vector<bool>: no T*
      // A last vector of fixed-size elements: its length tells the count (PageRank's neighbour
      // lists, 10 M ids an iteration), so no growth and one flag test per element.
      if (last) {
        constexpr size_t kStride = 1 + Codec<T>::kFixedSize;
        if (in->size() % kStride != 0) return false;
        size_t n = in->size() / kStride;
        v->resize(n);
        const char* p = in->data();
        for (size_t i = 0; i < n; ++i, p += kStride) {
          if (*p != '\1') return false;  // an end marker inside a last vector is malformed
          std::string_view e(p + 1, Codec<T>::kFixedSize);
          if (!Codec<T>::Decode(&e, &(*v)[i], false)) return false;
        }
        in->remove_prefix(n * kStride);
        return true;
      }
    }
    while (!(last && in->empty())) {
      bool more;
      if (!internal::GetFlag(in, &more)) return false;
      if (!more) return !last;  // an end marker inside a last vector is malformed
      T e{};
      if (!Codec<T>::Decode(in, &e, false)) return false;
      v->push_back(std::move(e));
    }
    return true;
  }
};

// 0x00 for nullopt (sorts first), else 0x01 and the value, which keeps the optional's `last`.
template <typename T>
struct Codec<std::optional<T>, std::enable_if_t<kHasCodec<T>>> {
  static constexpr size_t kFixedSize = 0;
  static void Encode(const std::optional<T>& v, std::string* out, bool last) {
    out->push_back(v ? '\1' : '\0');
    if (v) Codec<T>::Encode(*v, out, last);
  }
  static bool Decode(std::string_view* in, std::optional<T>* v, bool last) {
    bool present;
    if (!internal::GetFlag(in, &present)) return false;
    if (!present) {
      v->reset();
      return true;
    }
    return Codec<T>::Decode(in, &v->emplace(), last);
  }
};

// A struct encoded as the tuple of the listed fields (member pointers), in order; decoding
// default-constructs it and fills them. Used through SAWMILL_DF_CODEC.
template <typename S, auto... Fields>
struct FieldsCodec {
  using Seq = internal::SeqCodec<typename internal::FieldOf<Fields>::Type...>;
  static constexpr size_t kFixedSize = Seq::kFixedSize;
  static void Encode(const S& v, std::string* out, bool last) {
    Seq::Encode(out, last, v.*Fields...);
  }
  static bool Decode(std::string_view* in, S* v, bool last) {
    *v = S{};
    return Seq::Decode(in, last, &(v->*Fields)...);
  }
};

}  // namespace sawmill::df
