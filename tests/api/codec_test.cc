// api/codec.h: the order-preserving integer encodings round-trip and sort like the numbers,
// and decoding refuses fewer than 8 bytes (a short key is the caller's bug) instead of padding.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "api/codec.h"

namespace sawmill {
namespace {

TEST(Codec, Uint64RoundTripsAndSortsLikeTheNumbers) {
  std::vector<uint64_t> values = {0, 1, 255, 256, 1ull << 32, std::numeric_limits<uint64_t>::max()};
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(DecodeUint64(EncodeUint64(values[i])), values[i]);
    if (i > 0) {
      EXPECT_LT(EncodeUint64(values[i - 1]), EncodeUint64(values[i]));
    }
  }
}

TEST(Codec, Int64RoundTripsAndSortsLikeTheNumbers) {
  std::vector<int64_t> values = {std::numeric_limits<int64_t>::min(), -256, -1, 0, 1, 256,
                                 std::numeric_limits<int64_t>::max()};
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(DecodeInt64(EncodeInt64(values[i])), values[i]);
    char buf[8];
    EXPECT_EQ(EncodeInt64(values[i], buf), EncodeInt64(values[i]));
    if (i > 0) {
      EXPECT_LT(EncodeInt64(values[i - 1]), EncodeInt64(values[i]));
    }
  }
}

TEST(Codec, DecodingFewerThanEightBytesThrowsNamingTheSize) {
  std::string eight = EncodeUint64(0x0102030405060708ull);
  for (size_t n = 0; n < 8; ++n) {
    std::string_view shorter(eight.data(), n);
    try {
      uint64_t v = DecodeUint64(shorter);
      ADD_FAILURE() << n << " bytes decoded (zero-padded) as " << v;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(std::to_string(n) + " bytes"), std::string::npos) << e.what();
    }
    EXPECT_THROW(DecodeInt64(shorter), std::invalid_argument) << n << " bytes";
  }
}

TEST(Codec, DecodingReadsTheFirstEightBytesOfLongerInput) {
  std::string longer = EncodeUint64(42) + "tail";
  EXPECT_EQ(DecodeUint64(longer), 42u);
  EXPECT_EQ(DecodeInt64(EncodeInt64(-7) + "x"), -7);
}

}  // namespace
}  // namespace sawmill
