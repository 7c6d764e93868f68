#include "api/codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "api/dataflow_codec.h"

namespace dftest {
struct Visit {
  std::string url;
  int64_t time = 0;
  std::optional<double> score;
  bool operator==(const Visit&) const = default;
  auto operator<=>(const Visit&) const = default;
};
struct NoCodec {};
}  // namespace dftest

SAWMILL_DF_CODEC(dftest::Visit, &dftest::Visit::url, &dftest::Visit::time, &dftest::Visit::score);

namespace sawmill::df {
namespace {

using dftest::Visit;
using Nested = std::pair<std::string, std::tuple<int64_t, std::string, double>>;

static_assert(kHasCodec<int> && kHasCodec<long> && kHasCodec<long long> && kHasCodec<size_t>);
static_assert(kHasCodec<unsigned char> && kHasCodec<signed char> && kHasCodec<char16_t>);
static_assert(kHasCodec<Nested> && kHasCodec<std::vector<std::optional<Visit>>>);
static_assert(!kHasCodec<long double> && !kHasCodec<dftest::NoCodec>);
static_assert(!kHasCodec<std::vector<dftest::NoCodec>> && !kHasCodec<std::pair<int, long double>>);
static_assert(Codec<int64_t>::kFixedSize == 8 && Codec<uint16_t>::kFixedSize == 2);
static_assert(Codec<std::pair<int32_t, double>>::kFixedSize == 12);
static_assert(Codec<std::tuple<>>::kFixedSize == 0 && Codec<std::string>::kFixedSize == 0);
static_assert(Codec<std::array<int16_t, 3>>::kFixedSize == 6);
static_assert(Codec<std::tuple<int32_t, std::string>>::kFixedSize == 0);

template <typename T>
std::string Enc(const T& v, bool last) {
  std::string s;
  Codec<T>::Encode(v, &s, last);
  return s;
}

std::string Hex(std::string_view s) {
  static const char* kDigits = "0123456789abcdef";
  std::string h;
  for (unsigned char c : s) h += {kDigits[c >> 4], kDigits[c & 15], ' '};
  return h;
}

// Decodes v's encoding, both non-last (followed by trailing bytes that must be left alone) and
// last, and compares with v; also checks kFixedSize.
template <typename T>
void ExpectRoundTrip(const T& v) {
  for (bool last : {false, true}) {
    std::string e = Enc(v, last);
    if (Codec<T>::kFixedSize > 0) {
      EXPECT_EQ(e.size(), Codec<T>::kFixedSize);
    }
    std::string buf = last ? e : e + "\x01\xff";
    std::string_view in = buf;
    T out{};
    ASSERT_TRUE(Codec<T>::Decode(&in, &out, last)) << "last=" << last << " " << Hex(e);
    EXPECT_EQ(in, std::string_view(buf).substr(e.size())) << "last=" << last;
    EXPECT_TRUE(out == v) << "last=" << last << " " << Hex(e);
  }
  std::string whole = EncodeToString(v);
  T out{};
  EXPECT_TRUE(DecodeFromString(whole, &out));
  EXPECT_TRUE(out == v);
}

template <typename T>
int ValueSign(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}
int ByteSign(const std::string& a, const std::string& b) {
  int c = a.compare(b);  // memcmp, then shorter first
  return (c > 0) - (c < 0);
}

// Random pairs from `gen`: memcmp order of the encodings is the order of the values, for
// last and non-last encodings.
template <typename T, typename Gen>
void ExpectOrder(Gen gen, int pairs = 4000) {
  for (int i = 0; i < pairs; ++i) {
    T a = gen(), b = gen();
    for (bool last : {false, true}) {
      std::string ea = Enc(a, last), eb = Enc(b, last);
      ASSERT_EQ(ByteSign(ea, eb), ValueSign(a, b))
          << "pair " << i << " last=" << last << ": " << Hex(ea) << "vs " << Hex(eb);
    }
  }
}

// Two non-last encodings back to back decode to both values (prefix-freeness), and a last one
// may follow.
template <typename T>
void ExpectPrefixFree(const T& a, const T& b) {
  for (bool last_b : {false, true}) {
    std::string buf = Enc(a, false) + Enc(b, last_b);
    std::string_view in = buf;
    T x{}, y{};
    ASSERT_TRUE(Codec<T>::Decode(&in, &x, false)) << Hex(buf);
    ASSERT_TRUE(Codec<T>::Decode(&in, &y, last_b)) << Hex(buf);
    EXPECT_TRUE(in.empty());
    EXPECT_TRUE(x == a);
    EXPECT_TRUE(y == b);
  }
}

// Every proper prefix of a non-last encoding fails to decode (no delimiter or too few bytes);
// so does every proper prefix of a fixed-size last encoding. Variable-size last encodings may
// decode a prefix (a shorter string is still a string) but must stay inside the buffer: each
// truncation is copied into a buffer of exactly its size, so ASan builds would catch overreads.
template <typename T>
void ExpectTruncationsFail(const T& v) {
  for (bool last : {false, true}) {
    std::string e = Enc(v, last);
    for (size_t k = 0; k < e.size(); ++k) {
      std::string cut = e.substr(0, k);
      std::string_view in = cut;
      T out{};
      bool ok = Codec<T>::Decode(&in, &out, last);
      if (!last || Codec<T>::kFixedSize > 0) {
        EXPECT_FALSE(ok) << "last=" << last << " prefix " << k << " of " << Hex(e);
      }
    }
  }
}

// Random bytes: decoding never crashes, and whatever decodes re-encodes to exactly the bytes it
// consumed (each value has one encoding).
template <typename T>
void ExpectGarbageSafe(uint64_t seed) {
  std::mt19937_64 rng(seed);
  const char kBytes[] = {'\0', '\x01', '\x02', '\xff', '\x80', 'a'};
  for (int i = 0; i < 3000; ++i) {
    std::string buf(rng() % 14, '\0');
    for (char& c : buf) c = kBytes[rng() % sizeof kBytes];
    for (bool last : {false, true}) {
      std::string_view in = buf;
      T out{};
      if (!Codec<T>::Decode(&in, &out, last)) continue;
      size_t used = buf.size() - in.size();
      EXPECT_EQ(Enc(out, last), buf.substr(0, used)) << "last=" << last << " " << Hex(buf);
    }
  }
}

std::string RandomString(std::mt19937_64& rng) {
  const char kChars[] = {'\0', '\x01', '\xff', 'a', 'b'};  // escapes and the terminator's bytes
  std::string s(rng() % 6, '\0');
  for (char& c : s) c = kChars[rng() % sizeof kChars];
  return s;
}
int64_t RandomInt64(std::mt19937_64& rng) {
  switch (rng() % 4) {
    case 0:
      return static_cast<int64_t>(rng() % 5) - 2;  // ties and sign changes
    case 1:
      return rng() % 2 ? INT64_MIN : INT64_MAX;
    default:
      return static_cast<int64_t>(rng());
  }
}
double RandomDouble(std::mt19937_64& rng) {
  const double kSpecial[] = {0.0,
                             1.0,
                             -1.0,
                             0.5,
                             -2.5,
                             1e300,
                             -1e300,
                             4.9e-324,
                             -4.9e-324,
                             std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(),
                             std::numeric_limits<double>::max(),
                             std::numeric_limits<double>::lowest()};
  if (rng() % 2) return kSpecial[rng() % std::size(kSpecial)];
  double d;
  do {
    uint64_t bits = rng();
    std::memcpy(&d, &bits, 8);
  } while (std::isnan(d) || (d == 0 && std::signbit(d)));  // no order for NaN; -0.0 == 0.0
  return d;
}
Visit RandomVisit(std::mt19937_64& rng) {
  Visit v{RandomString(rng), static_cast<int64_t>(rng() % 3) - 1, std::nullopt};
  if (rng() % 3) v.score = static_cast<double>(rng() % 3) - 1;
  return v;
}

TEST(DataflowCodec, RoundTripScalars) {
  for (int64_t x : {INT64_MIN, INT64_MIN + 1, int64_t{-1}, int64_t{0}, int64_t{1}, INT64_MAX})
    ExpectRoundTrip(x);
  for (uint64_t x : {uint64_t{0}, uint64_t{1}, UINT64_MAX}) ExpectRoundTrip(x);
  for (int32_t x : {INT32_MIN, -7, 0, INT32_MAX}) ExpectRoundTrip(x);
  for (uint32_t x : {0u, 0x80000000u, UINT32_MAX}) ExpectRoundTrip(x);
  for (int16_t x : {int16_t{-32768}, int16_t{0}, int16_t{32767}}) ExpectRoundTrip(x);
  for (uint16_t x : {uint16_t{0}, uint16_t{65535}}) ExpectRoundTrip(x);
  for (int8_t x : {int8_t{-128}, int8_t{0}, int8_t{127}}) ExpectRoundTrip(x);
  for (uint8_t x : {uint8_t{0}, uint8_t{255}}) ExpectRoundTrip(x);
  for (long long x : {-5LL, 5LL}) ExpectRoundTrip(x);
  for (size_t x : {size_t{0}, SIZE_MAX}) ExpectRoundTrip(x);
  for (char x : {'\0', 'a', '\xff'}) ExpectRoundTrip(x);
  for (bool x : {false, true}) ExpectRoundTrip(x);
  for (double x : {0.0, 1.5, -1.5, 1e-310, std::numeric_limits<double>::infinity(),
                   -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::max()})
    ExpectRoundTrip(x);
  for (float x : {0.0f, -3.25f, std::numeric_limits<float>::infinity()}) ExpectRoundTrip(x);
  // -0.0 == 0.0, so check the sign bit survives; NaN != NaN, so check NaN-ness.
  double out = 0;
  ASSERT_TRUE(DecodeFromString(EncodeToString(-0.0), &out));
  EXPECT_TRUE(out == 0 && std::signbit(out));
  ASSERT_TRUE(DecodeFromString(EncodeToString(std::nan("")), &out));
  EXPECT_TRUE(std::isnan(out));
}

TEST(DataflowCodec, Int64MatchesMapReduceEncoding) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 1000; ++i) {
    int64_t x = RandomInt64(rng);
    EXPECT_EQ(EncodeToString<int64_t>(x), EncodeInt64(x));
    EXPECT_EQ(EncodeToString(static_cast<long long>(x)), EncodeInt64(x));
    EXPECT_EQ(EncodeToString(static_cast<uint64_t>(x)), EncodeUint64(static_cast<uint64_t>(x)));
  }
  EXPECT_EQ(EncodeToString<int64_t>(INT64_MIN), EncodeInt64(INT64_MIN));
  EXPECT_EQ(EncodeToString<int64_t>(INT64_MAX), EncodeInt64(INT64_MAX));
}

TEST(DataflowCodec, RoundTripStrings) {
  const std::string kStrings[] = {"",
                                  "a",
                                  std::string("\0", 1),
                                  std::string("a\0b\0", 4),
                                  "\xff\xff",
                                  std::string("\0\x01", 2),
                                  std::string("\0\xff", 2)};
  for (const std::string& s : kStrings) {
    ExpectRoundTrip(s);
    ExpectRoundTrip(std::string_view(s));
  }
  // A last string is its raw bytes, as a MapReduce job would write the key.
  EXPECT_EQ(EncodeToString(std::string("a\0b", 3)), std::string("a\0b", 3));
  EXPECT_EQ(Enc(std::string("a\0b", 3), false), std::string("a\0\xff"
                                                            "b\0\x01",
                                                            6));
}

TEST(DataflowCodec, StringViewDecodesInPlaceOrIntoScratch) {
  std::string buf = Enc(std::string_view("plain"), false) + "rest";
  std::string_view in = buf, v;
  ASSERT_TRUE(Codec<std::string_view>::Decode(&in, &v, false));
  EXPECT_EQ(v, "plain");
  EXPECT_EQ(v.data(), buf.data());  // no copy without escapes
  EXPECT_EQ(in, "rest");
  // Escaped views live in a per-thread ring: the last 16 stay valid together.
  std::vector<std::string> encs;
  encs.reserve(internal::kScratchSlots);  // the unescaped view (i = 0) points into encs[0]
  std::vector<std::string_view> views(internal::kScratchSlots);
  for (size_t i = 0; i < views.size(); ++i) {
    encs.push_back(Enc(std::string_view(std::string(i, '\0') + "x"), false));
    std::string_view e = encs.back();
    ASSERT_TRUE(Codec<std::string_view>::Decode(&e, &views[i], false));
  }
  for (size_t i = 0; i < views.size(); ++i) EXPECT_EQ(views[i], std::string(i, '\0') + "x");
}

TEST(DataflowCodec, RoundTripComposites) {
  ExpectRoundTrip(std::tuple<>());
  EXPECT_EQ(EncodeToString(std::tuple<>()), "");
  ExpectRoundTrip(Nested{"k", {-3, std::string("\0v", 2), -0.5}});
  ExpectRoundTrip(Nested{"", {INT64_MIN, "", 0.0}});
  ExpectRoundTrip(std::pair<int32_t, double>{-1, 2.5});
  ExpectRoundTrip(std::tuple<std::string, std::string>{"", ""});
  ExpectRoundTrip(std::tuple<std::string, std::string>{std::string("a\0", 2), "b"});
  ExpectRoundTrip(std::vector<std::string>{});
  ExpectRoundTrip(std::vector<std::string>{""});
  ExpectRoundTrip(std::vector<std::string>{"a", "", std::string("\0\0", 2), "\xff"});
  ExpectRoundTrip(std::vector<int32_t>{1, -2, 3});
  ExpectRoundTrip(std::vector<uint64_t>{});
  ExpectRoundTrip(std::vector<uint64_t>{0, ~0ull, 42});
  ExpectRoundTrip(std::vector<std::pair<int32_t, double>>{{1, 0.5}, {-1, -2.0}});
  ExpectRoundTrip(std::vector<bool>{true, false});
  ExpectRoundTrip(std::vector<std::vector<int8_t>>{{}, {1}, {}});
  ExpectRoundTrip(std::optional<std::string>());
  ExpectRoundTrip(std::optional<std::string>(""));
  ExpectRoundTrip(std::optional<std::string>("x"));
  ExpectRoundTrip(std::optional<int64_t>(-9));
  ExpectRoundTrip(std::array<std::string, 2>{"a", std::string("\0", 1)});
  ExpectRoundTrip(std::array<uint16_t, 3>{1, 2, 65535});
  ExpectRoundTrip(Visit{});
  ExpectRoundTrip(Visit{std::string("u\0rl", 4), INT64_MAX, 0.25});
  ExpectRoundTrip(std::vector<std::optional<Visit>>{std::nullopt, Visit{"a", 1, std::nullopt}});
}

TEST(DataflowCodec, OrderMatchesValues) {
  std::mt19937_64 rng(42);
  ExpectOrder<int64_t>([&] { return RandomInt64(rng); });
  ExpectOrder<int32_t>([&] { return static_cast<int32_t>(RandomInt64(rng)); });
  ExpectOrder<int8_t>([&] { return static_cast<int8_t>(rng()); });
  ExpectOrder<uint32_t>([&] { return static_cast<uint32_t>(rng() % 2 ? rng() % 4 : rng()); });
  ExpectOrder<double>([&] { return RandomDouble(rng); });
  ExpectOrder<float>([&] {
    float f = static_cast<float>(RandomDouble(rng));
    return f == 0 ? 0.0f : f;  // tiny negatives round to -0.0f, which equals 0.0f
  });
  ExpectOrder<bool>([&] { return rng() % 2 == 1; });
  ExpectOrder<std::string>([&] { return RandomString(rng); });
  std::vector<std::string> pool(300);  // the views' owners
  for (std::string& p : pool) p = RandomString(rng);
  ExpectOrder<std::string_view>([&] { return std::string_view(pool[rng() % pool.size()]); });
  ExpectOrder<std::pair<std::string, int64_t>>([&] {
    return std::pair{RandomString(rng), static_cast<int64_t>(rng() % 5) - 2};
  });
  ExpectOrder<std::tuple<std::string, std::string>>([&] {
    return std::tuple{RandomString(rng), RandomString(rng)};
  });
  ExpectOrder<std::vector<int32_t>>([&] {
    std::vector<int32_t> v(rng() % 4);
    for (int32_t& x : v) x = static_cast<int32_t>(rng() % 5) - 2;
    return v;
  });
  ExpectOrder<std::vector<std::string>>([&] {
    std::vector<std::string> v(rng() % 3);
    for (std::string& s : v) s = RandomString(rng);
    return v;
  });
  ExpectOrder<std::optional<std::string>>(
      [&] { return rng() % 3 ? std::optional(RandomString(rng)) : std::nullopt; });
  ExpectOrder<Visit>([&] { return RandomVisit(rng); });
}

TEST(DataflowCodec, DoubleByteOrderAtTheEdges) {
  const double kInf = std::numeric_limits<double>::infinity();
  for (bool last : {false, true}) {
    EXPECT_LT(Enc(-kInf, last), Enc(std::numeric_limits<double>::lowest(), last));
    EXPECT_LT(Enc(-0.0, last), Enc(0.0, last));  // equal values, distinct bytes
    EXPECT_LT(Enc(-4.9e-324, last), Enc(-0.0, last));
    EXPECT_LT(Enc(0.0, last), Enc(4.9e-324, last));
    EXPECT_LT(Enc(kInf, last), Enc(std::nan(""), last));  // positive NaN after +inf
    EXPECT_LT(Enc(-std::nan(""), last), Enc(-kInf, last));
  }
}

TEST(DataflowCodec, NonLastEncodingsArePrefixFree) {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 500; ++i) {
    ExpectPrefixFree(RandomString(rng), RandomString(rng));
    ExpectPrefixFree(RandomInt64(rng), RandomInt64(rng));
    ExpectPrefixFree(RandomDouble(rng), RandomDouble(rng));
    ExpectPrefixFree(RandomVisit(rng), RandomVisit(rng));
    ExpectPrefixFree(std::vector<std::string>{RandomString(rng)}, std::vector<std::string>{});
    ExpectPrefixFree(std::optional<std::string>(RandomString(rng)), std::optional<std::string>());
    ExpectPrefixFree(Nested{RandomString(rng), {1, RandomString(rng), 2}}, Nested{});
  }
}

TEST(DataflowCodec, TruncatedInputFails) {
  ExpectTruncationsFail(INT64_MIN);
  ExpectTruncationsFail(uint16_t{7});
  ExpectTruncationsFail(true);
  ExpectTruncationsFail('c');
  ExpectTruncationsFail(-1.5);
  ExpectTruncationsFail(2.5f);
  ExpectTruncationsFail(std::string("ab\0c", 4));
  ExpectTruncationsFail(std::string());
  ExpectTruncationsFail(std::string_view("a\0", 2));
  ExpectTruncationsFail(Nested{std::string("k\0", 2), {5, "v", 1.0}});
  ExpectTruncationsFail(std::tuple<std::string, std::string>{"a", "b"});
  ExpectTruncationsFail(std::vector<std::string>{"a", std::string("\0", 1)});
  ExpectTruncationsFail(std::vector<int64_t>{1, 2});
  ExpectTruncationsFail(std::optional<int32_t>(3));
  ExpectTruncationsFail(std::array<int32_t, 2>{1, 2});
  ExpectTruncationsFail(Visit{"url", 9, 0.5});
}

TEST(DataflowCodec, MalformedInputFails) {
  auto decode = [](std::string_view bytes, auto* v, bool last) {
    return Codec<std::remove_pointer_t<decltype(v)>>::Decode(&bytes, v, last);
  };
  std::string s;
  std::string_view sv;
  EXPECT_FALSE(decode("ab", &s, false));                             // no terminator
  EXPECT_FALSE(decode(std::string_view("ab\0", 3), &s, false));      // half a terminator
  EXPECT_FALSE(decode(std::string_view("ab\0\x02", 4), &s, false));  // bad escape
  EXPECT_FALSE(decode(std::string_view("ab\0\x02", 4), &sv, false));
  EXPECT_FALSE(decode(std::string_view("a\0\xff", 3), &sv, false));  // escape, no end
  bool b;
  EXPECT_FALSE(decode("\x02", &b, true));
  std::optional<int8_t> o;
  EXPECT_FALSE(decode("\x02", &o, true));
  std::vector<int8_t> v;
  EXPECT_FALSE(decode("\x02", &v, false));
  EXPECT_FALSE(decode(std::string_view("\x01\x80\0\x01\x80", 5), &v, true));  // end mark inside
  // Last vectors of fixed-size elements (decoded by stride): a short element, an end mark or a
  // bad flag inside.
  std::vector<uint32_t> u;
  EXPECT_FALSE(decode(std::string_view("\x01\0\0\0\x01\x01\0\0", 8), &u, true));
  EXPECT_FALSE(decode(std::string_view("\x01\0\0\0\x01\0\0\0\0\0", 10), &u, true));
  EXPECT_FALSE(decode(std::string_view("\x01\0\0\0\x01\x02\0\0\0\0", 10), &u, true));
  EXPECT_TRUE(decode(std::string_view("\x01\0\0\0\x01\x01\0\0\0\x02", 10), &u, true));
  EXPECT_EQ(u, (std::vector<uint32_t>{1, 2}));
  int32_t i;
  EXPECT_FALSE(DecodeFromString(std::string(5, 'x'), &i));  // left-over bytes
  int64_t l;
  EXPECT_FALSE(DecodeFromString(std::string(7, 'x'), &l));
}

TEST(DataflowCodec, GarbageNeverCrashesAndDecodesCanonically) {
  ExpectGarbageSafe<int32_t>(1);
  ExpectGarbageSafe<double>(2);
  ExpectGarbageSafe<bool>(3);
  ExpectGarbageSafe<std::string>(4);
  ExpectGarbageSafe<std::string_view>(5);
  ExpectGarbageSafe<Nested>(6);
  ExpectGarbageSafe<std::vector<std::string>>(7);
  ExpectGarbageSafe<std::vector<std::optional<int8_t>>>(8);
  ExpectGarbageSafe<std::optional<std::string>>(9);
  ExpectGarbageSafe<Visit>(10);
  ExpectGarbageSafe<std::array<std::string, 2>>(11);
}

}  // namespace
}  // namespace sawmill::df
