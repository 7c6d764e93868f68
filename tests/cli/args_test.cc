// Number parsing of the `sawmill` command line (cli/args.h): whole numbers only, in range, with
// errors that name the flag and the text (issue 18, B4).
#include "cli/args.h"

#include <cstdint>
#include <string>

#include <gtest/gtest.h>

namespace sawmill {
namespace {

Args With(const std::string& flag, const std::string& value) {
  Args a;
  a.flags[flag] = value;
  return a;
}

TEST(ArgsTest, GetU64RejectsWhatIsNotAWholeUnsignedNumber) {
  for (const char* bad : {"-1", " 5", "+5", "5 ", "abc", "12x", "", "99999999999999999999", "0x10", "1e3"}) {
    uint64_t v = 7;
    EXPECT_FALSE(With("k", bad).GetU64("k", 3, &v)) << "'" << bad << "'";
  }
}

TEST(ArgsTest, GetU64TakesNumbersAndDefaults) {
  uint64_t v = 0;
  ASSERT_TRUE(With("k", "18446744073709551615").GetU64("k", 3, &v));
  EXPECT_EQ(v, UINT64_MAX);
  ASSERT_TRUE(With("k", "0").GetU64("k", 3, &v));
  EXPECT_EQ(v, 0u);
  ASSERT_TRUE(Args().GetU64("k", 3, &v));
  EXPECT_EQ(v, 3u);
}

TEST(ArgsTest, GetNumberNamesTheFlagAndKeepsItsRange) {
  int v = 0;
  EXPECT_TRUE(With("partition", "2147483647").GetNumber("partition", 0, &v, 0));
  EXPECT_EQ(v, 2147483647);
  EXPECT_FALSE(With("partition", "2147483648").GetNumber("partition", 0, &v, 0));
  EXPECT_FALSE(With("partition", "-1").GetNumber("partition", 0, &v, 0));
  EXPECT_TRUE(Args().GetNumber("partition", 5, &v, 0));
  EXPECT_EQ(v, 5);
  double d = 0;
  EXPECT_TRUE(With("slow_start", "0.25").GetNumber("slow_start", 0.05, &d, 0.0, 1.0));
  EXPECT_EQ(d, 0.25);
  EXPECT_FALSE(With("slow_start", "abc").GetNumber("slow_start", 0.05, &d, 0.0, 1.0));
}

TEST(ParseNumberTest, TakesWholeNumbersInRange) {
  EXPECT_EQ(ParseNumber<uint64_t>("0", "--k").value(), 0u);
  EXPECT_EQ(ParseNumber<uint64_t>("18446744073709551615", "--k").value(), UINT64_MAX);
  EXPECT_EQ(ParseNumber<int>("-5", "X").value(), -5);
  EXPECT_EQ(ParseNumber<int64_t>("-9223372036854775808", "X").value(), INT64_MIN);
  EXPECT_EQ(ParseNumber<uint16_t>("65535", "--port").value(), 65535);
  EXPECT_EQ(ParseNumber<uint64_t>("512", "R", 1, 512).value(), 512u);
  EXPECT_EQ(ParseNumber<double>("0.05", "--slow_start", 0.0, 1.0).value(), 0.05);
  EXPECT_EQ(ParseNumber<double>("1e-1", "--slow_start", 0.0, 1.0).value(), 0.1);
}

// The error of ParseNumber<T>(text, what, ...), or "" when it parses.
template <typename T>
std::string Error(std::string_view text, T min = std::numeric_limits<T>::lowest(),
                  T max = std::numeric_limits<T>::max()) {
  auto r = ParseNumber<T>(text, "--flag", min, max);
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST(ParseNumberTest, NamesWhatAndTheTextWhenNotANumber) {
  EXPECT_EQ(Error<uint64_t>("abc"), "--flag wants a whole number, got 'abc'");
  EXPECT_EQ(Error<uint64_t>(""), "--flag wants a whole number, got ''");
  EXPECT_EQ(Error<int>("12x"), "--flag wants a whole number, got '12x'");
  for (const char* bad : {" 5", "5 ", "+5", "0x10", "1e3", "1.5", "-", "--5", "-abc", "5\n"}) {
    EXPECT_EQ(Error<uint64_t>(bad), std::string("--flag wants a whole number, got '") + bad + "'");
  }
  EXPECT_EQ(Error<double>("abc", 0.0, 1.0), "--flag wants a number, got 'abc'");
  EXPECT_EQ(Error<double>("0.5x", 0.0, 1.0), "--flag wants a number, got '0.5x'");
  EXPECT_EQ(Error<double>("", 0.0, 1.0), "--flag wants a number, got ''");
}

TEST(ParseNumberTest, NamesTheRangeWhenOutOfIt) {
  EXPECT_EQ(Error<uint64_t>("-1"), "--flag must be in 0..18446744073709551615, got '-1'");
  EXPECT_EQ(Error<uint64_t>("18446744073709551616"),
            "--flag must be in 0..18446744073709551615, got '18446744073709551616'");
  EXPECT_EQ(Error<uint64_t>("-99999999999999999999"),
            "--flag must be in 0..18446744073709551615, got '-99999999999999999999'");
  EXPECT_EQ(Error<int>("2147483648", 0), "--flag must be in 0..2147483647, got '2147483648'");
  EXPECT_EQ(Error<int>("-1", 0), "--flag must be in 0..2147483647, got '-1'");
  EXPECT_EQ(Error<uint64_t>("0", 1, 512), "--flag must be in 1..512, got '0'");
  EXPECT_EQ(Error<uint64_t>("513", 1, 512), "--flag must be in 1..512, got '513'");
  EXPECT_EQ(Error<uint32_t>("4294967296"), "--flag must be in 0..4294967295, got '4294967296'");
  EXPECT_EQ(Error<double>("1.5", 0.0, 1.0), "--flag must be in 0..1, got '1.5'");
  EXPECT_EQ(Error<double>("-0.1", 0.0, 1.0), "--flag must be in 0..1, got '-0.1'");
  EXPECT_EQ(Error<double>("nan", 0.0, 1.0), "--flag must be in 0..1, got 'nan'");
  EXPECT_EQ(Error<double>("inf", 0.0, 1.0), "--flag must be in 0..1, got 'inf'");
  EXPECT_NE(Error<double>("1e400"), "");
}

}  // namespace
}  // namespace sawmill
