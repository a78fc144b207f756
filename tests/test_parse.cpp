// The parsers for what a user types: every accepted form, and every rejected one rejected with a
// scalelab::Error that names the flag.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "scalelab/error.hpp"
#include "scalelab/parse.hpp"
#include "support/helpers.hpp"

namespace {

using namespace std::chrono_literals;
using scalelab::format_duration;
using scalelab::parse_count;
using scalelab::parse_duration;
using scalelab::parse_fraction;
using scalelab::parse_name_list;
using scalelab::parse_workers;

using scalelab::testing::throws_naming;

// A NUL byte, for inputs that hold one: a string literal would end there.
const std::string nul(1, '\0');

// Each rejects_* passes when the parser throws scalelab::Error naming the flag. The failure
// message carries the input, since most calls sit in loops over inputs.

::testing::AssertionResult rejects_duration(const std::string& text,
                                            const std::string& flag = "--io-wait",
                                            bool allow_zero = false) {
  return throws_naming([&] { parse_duration(text, flag, allow_zero); }, flag)
         << " (input '" << text << "')";
}

::testing::AssertionResult rejects_count(const std::string& text, const std::string& flag,
                                         std::int64_t min, std::int64_t max) {
  return throws_naming([&] { parse_count(text, flag, min, max); }, flag)
         << " (input '" << text << "')";
}

::testing::AssertionResult rejects_fraction(const std::string& text) {
  return throws_naming([&] { parse_fraction(text, "--cpu-fraction"); }, "--cpu-fraction")
         << " (input '" << text << "')";
}

// The message of the scalelab::Error that `call` throws; empty when it throws nothing.
template <typename Call>
std::string error_message(Call call) {
  try {
    call();
  } catch (const scalelab::Error& e) {
    return e.what();
  }
  return "";
}

// With room for 64 workers, as every parse_workers test here uses.
::testing::AssertionResult rejects_workers(const std::string& text) {
  return throws_naming([&] { parse_workers(text, "--workers", 64); }, "--workers")
         << " (input '" << text << "')";
}

// --- parse_duration -------------------------------------------------------------------------

TEST(ParseDuration, AcceptsEveryUnit) {
  EXPECT_EQ(parse_duration("100ns", "--io-wait"), 100ns);
  EXPECT_EQ(parse_duration("250us", "--io-wait"), 250us);
  EXPECT_EQ(parse_duration("20ms", "--io-wait"), 20ms);
  EXPECT_EQ(parse_duration("3s", "--io-wait"), 3s);
  EXPECT_EQ(parse_duration("2m", "--io-wait"), 2min);
}

TEST(ParseDuration, AcceptsDecimals) {
  EXPECT_EQ(parse_duration("1.5s", "--io-wait"), 1500ms);
  EXPECT_EQ(parse_duration("0.5ms", "--io-wait"), 500us);
  EXPECT_EQ(parse_duration("2.25us", "--io-wait"), 2250ns);
  EXPECT_EQ(parse_duration("1.5m", "--io-wait"), 90s);
  EXPECT_EQ(parse_duration(".5s", "--io-wait"), 500ms);
}

TEST(ParseDuration, AcceptsSpacesAroundAndBeforeTheUnit) {
  EXPECT_EQ(parse_duration("5 ms", "--io-wait"), 5ms);
  EXPECT_EQ(parse_duration("  20ms  ", "--io-wait"), 20ms);
  EXPECT_EQ(parse_duration("\t1.5 s\t", "--io-wait"), 1500ms);
}

TEST(ParseDuration, RoundsToTheNearestNanosecond) {
  EXPECT_EQ(parse_duration("1.4ns", "--io-wait"), 1ns);
  EXPECT_EQ(parse_duration("1.6ns", "--io-wait"), 2ns);
}

TEST(ParseDuration, RejectsANumberWithoutUnit) {
  EXPECT_TRUE(rejects_duration("20"));
  EXPECT_TRUE(rejects_duration("1.5", "--cpu-work"));
}

TEST(ParseDuration, RejectsUnknownUnits) {
  for (const char* text : {"5parsecs", "3h", "2d", "20MS", "20 m s", "10sec", "5msx"}) {
    EXPECT_TRUE(rejects_duration(text));
  }
}

TEST(ParseDuration, RejectsNegativeValues) {
  EXPECT_TRUE(rejects_duration("-5ms"));
  EXPECT_TRUE(rejects_duration("-0s", "--io-wait", /*allow_zero=*/true));
}

TEST(ParseDuration, RejectsZeroUnlessAllowed) {
  EXPECT_TRUE(rejects_duration("0ms"));
  EXPECT_TRUE(rejects_duration("0.0s"));
  EXPECT_EQ(parse_duration("0ms", "--io-wait", true), 0ns);
  EXPECT_EQ(parse_duration("0s", "--io-wait", true), 0ns);
}

TEST(ParseDuration, RejectsValuesThatRoundToZero) {
  EXPECT_TRUE(rejects_duration("0.1ns"));
  // Allowing zero allows exactly zero, not a positive value too small to represent.
  EXPECT_TRUE(rejects_duration("0.1ns", "--io-wait", /*allow_zero=*/true));
}

TEST(ParseDuration, RejectsEmptyAndBlank) {
  EXPECT_TRUE(rejects_duration(""));
  EXPECT_TRUE(rejects_duration("   "));
}

TEST(ParseDuration, RejectsGarbage) {
  for (const char* text : {"abc", "ms", "s", ".", "..5s", "1.2.3s", "5 5ms", "fast", "1,5s",
                           "nan s", "inf s", "0x10ms", "+5ms", "5ms5"}) {
    EXPECT_TRUE(rejects_duration(text));
  }
}

TEST(ParseDuration, RejectsOverflow) {
  EXPECT_TRUE(rejects_duration("1e30s"));
  EXPECT_TRUE(rejects_duration("99999999999999999999s"));
  EXPECT_TRUE(rejects_duration("99999999999999999999999999999999999999999ns"));
}

TEST(ParseDuration, AcceptsUpToADayAndRejectsLonger) {
  EXPECT_EQ(parse_duration("86400s", "--io-wait"), 24h);
  EXPECT_EQ(parse_duration("1440m", "--io-wait"), 24h);
  EXPECT_TRUE(rejects_duration("86401s"));
  EXPECT_TRUE(rejects_duration("1441m"));
  EXPECT_TRUE(rejects_duration("100000000ms"));
}

TEST(ParseDuration, RejectsExponentsHugeValuesAndIntMaxTimesAUnit) {
  // Exponents are not part of the syntax; values that overflow int64 nanoseconds once scaled
  // by their unit are over the one-day limit long before that.
  for (const char* text : {"1e308s", "1e3ms", "infs", "inf ms", "nan ms", "NaNs",
                           "9223372036854775807ns", "9223372036854775807s", "9223372036854775807m",
                           "18446744073709551616us", "99999999999999999999h", "86400.000001s"}) {
    EXPECT_TRUE(rejects_duration(text));
  }
}

TEST(ParseDuration, RejectsNegativeZeroAndSigns) {
  for (const char* text : {"-0", "-0ms", "-0.0s", "+0s", "- 5ms", "−5ms"}) {
    EXPECT_TRUE(rejects_duration(text, "--io-wait", /*allow_zero=*/true));
  }
}

TEST(ParseDuration, RejectsEmbeddedNulsAndControlCharacters) {
  for (const std::string& text : {"5" + nul + "ms", "5ms" + nul, nul + "5ms", std::string("5\nms"),
                                  std::string("5ms\n"), std::string("\r5ms")}) {
    EXPECT_TRUE(rejects_duration(text));
  }
}

TEST(ParseDuration, ErrorMessageNamesWhatWasTyped) {
  EXPECT_TRUE(throws_naming([] { parse_duration("5parsecs", "--cpu-work"); }, "5parsecs"));
}

// --- parse_count ----------------------------------------------------------------------------

TEST(ParseCount, AcceptsTheWholeRange) {
  EXPECT_EQ(parse_count("1", "--tasks", 1, 10), 1);
  EXPECT_EQ(parse_count("5", "--tasks", 1, 10), 5);
  EXPECT_EQ(parse_count("10", "--tasks", 1, 10), 10);
  EXPECT_EQ(parse_count("0", "--seed", 0, 10), 0);
  const auto max = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(parse_count("9223372036854775807", "--seed", 0, max), max);
}

TEST(ParseCount, TrimsSpaces) {
  EXPECT_EQ(parse_count("  7 ", "--tasks", 1, 10), 7);
  EXPECT_EQ(parse_count("\t3", "--tasks", 1, 10), 3);
}

TEST(ParseCount, RejectsOutOfRange) {
  EXPECT_TRUE(rejects_count("0", "--tasks", 1, 10));
  EXPECT_TRUE(rejects_count("11", "--tasks", 1, 10));
  EXPECT_TRUE(rejects_count("-3", "--tasks", 1, 10));
  EXPECT_TRUE(rejects_count("-1", "--seed", 0, 10));
}

TEST(ParseCount, RejectsNonNumbers) {
  for (const char* text : {"", " ", "x", "abc", "1.5", "1e3", "0x10", "one", "--", "-", "+"}) {
    EXPECT_TRUE(rejects_count(text, "--repeat", 1, 100));
  }
}

TEST(ParseCount, RejectsTrailingJunk) {
  for (const char* text : {"12abc", "5 tasks", "3,4", "7.", "10x", "1 2"}) {
    EXPECT_TRUE(rejects_count(text, "--tasks", 1, 100));
  }
}

TEST(ParseCount, RejectsOverflow) {
  const auto max = std::numeric_limits<std::int64_t>::max();
  EXPECT_TRUE(rejects_count("99999999999999999999", "--seed", 0, max));
  EXPECT_TRUE(rejects_count("9223372036854775808", "--seed", 0, max));
  EXPECT_TRUE(rejects_count("-99999999999999999999", "--seed", 0, max));
}

TEST(ParseCount, RejectsNegativeZero) {
  // "-0" is zero in value but a negative number as typed: a count has no sign.
  EXPECT_TRUE(rejects_count("-0", "--seed", 0, 10));
  EXPECT_TRUE(rejects_count("-00", "--seed", 0, 10));
}

TEST(ParseCount, RejectsEmbeddedNuls) {
  EXPECT_TRUE(rejects_count("5" + nul, "--tasks", 1, 100));
  EXPECT_TRUE(rejects_count(nul + "5", "--tasks", 1, 100));
  EXPECT_TRUE(rejects_count("1" + nul + "2", "--tasks", 1, 100));
}

// --- parse_fraction -------------------------------------------------------------------------

TEST(ParseFraction, AcceptsZeroToOne) {
  EXPECT_EQ(parse_fraction("0", "--cpu-fraction"), 0.0);
  EXPECT_EQ(parse_fraction("1", "--cpu-fraction"), 1.0);
  EXPECT_EQ(parse_fraction("0.25", "--cpu-fraction"), 0.25);
  EXPECT_EQ(parse_fraction(" .5\t", "--cpu-fraction"), 0.5);
  EXPECT_EQ(parse_fraction("1.0", "--cpu-fraction"), 1.0);
}

TEST(ParseFraction, RejectsOutsideZeroToOne) {
  for (const char* text : {"1.0000001", "2", "-0.1", "-1", "1e300", "99999999999999999999"}) {
    EXPECT_TRUE(rejects_fraction(text));
  }
}

TEST(ParseFraction, RejectsNegativeZero) {
  // -0.0 compares equal to 0 but would be recorded as -0.0: a fraction has no sign.
  for (const char* text : {"-0", "-0.0", "-0e0", "-.0"}) {
    EXPECT_TRUE(rejects_fraction(text));
  }
}

TEST(ParseFraction, RejectsNanInfinityAndGarbage) {
  for (const char* text : {"", " ", "nan", "NaN", "-nan", "inf", "-inf", "infinity", "50%", "0.5x",
                           "0x0.8", "+0.5", "half", ".", "0..5", "0,5", "1/2"}) {
    EXPECT_TRUE(rejects_fraction(text));
  }
  EXPECT_TRUE(rejects_fraction("0.5" + nul));
}

// --- error messages -------------------------------------------------------------------------

TEST(ParseErrors, StayOneLineWhateverWasTyped) {
  // The CLI prints an Error as one line: a newline or escape sequence typed into a flag must
  // not break that line or reach the terminal raw.
  const std::vector<std::string> messages = {
      error_message([] { parse_count("1\n2", "--tasks", 1, 10); }),
      error_message([] { parse_duration("5\nms", "--io-wait"); }),
      error_message([] { parse_fraction("0.5\r\n", "--cpu-fraction"); }),
      error_message([] { parse_workers("1,\x1b[2J", "--workers", 64); }),
      error_message([] { parse_name_list("cpu,\n,io", "--model"); }),
  };
  for (const std::string& message : messages) {
    EXPECT_FALSE(message.empty());
    EXPECT_EQ(message.find_first_of("\n\r\x1b"), std::string::npos) << message;
  }
  EXPECT_NE(error_message([] { parse_count("1" + nul + "2", "--tasks", 1, 10); }).find("\\x00"),
            std::string::npos);
}

TEST(ParseErrors, QuoteAHugeInputOnlyInPart) {
  // A megabyte typed into a flag gives a message a person can read, not a megabyte.
  const std::string huge(1 << 20, '7');
  for (const std::string& message :
       {error_message([&] { parse_count(huge, "--tasks", 1, 10); }),
        error_message([&] { parse_duration(huge + "parsecs", "--io-wait"); }),
        error_message([&] { parse_fraction(huge, "--cpu-fraction"); }),
        error_message([&] { parse_workers(huge, "--workers", 64); }),
        error_message([&] { parse_name_list(huge + ",,", "--model"); })}) {
    EXPECT_FALSE(message.empty());
    EXPECT_LT(message.size(), 300u) << message.substr(0, 300);
  }
}

// --- parse_workers --------------------------------------------------------------------------

using Workers = std::vector<int>;

TEST(ParseWorkers, AcceptsAList) {
  EXPECT_EQ(parse_workers("1,2,8", "--workers", 64), (Workers{1, 2, 8}));
  EXPECT_EQ(parse_workers("4", "--workers", 64), (Workers{4}));
  EXPECT_EQ(parse_workers(" 1 , 2 ,\t8 ", "--workers", 64), (Workers{1, 2, 8}));
}

TEST(ParseWorkers, RangeIsPowersOfTwoWithTheUpperBoundIncluded) {
  EXPECT_EQ(parse_workers("1..16", "--workers", 64), (Workers{1, 2, 4, 8, 16}));
  EXPECT_EQ(parse_workers("1..12", "--workers", 64), (Workers{1, 2, 4, 8, 12}));
  EXPECT_EQ(parse_workers("1..1", "--workers", 64), (Workers{1}));
  EXPECT_EQ(parse_workers("4..4", "--workers", 64), (Workers{4}));
  EXPECT_EQ(parse_workers("1..64", "--workers", 64), (Workers{1, 2, 4, 8, 16, 32, 64}));
}

TEST(ParseWorkers, RangeDoublesFromTheLowerBound) {
  EXPECT_EQ(parse_workers("3..16", "--workers", 64), (Workers{3, 6, 12, 16}));
  EXPECT_EQ(parse_workers("5..6", "--workers", 64), (Workers{5, 6}));
}

TEST(ParseWorkers, MixesRangesAndCounts) {
  EXPECT_EQ(parse_workers("1..4,12", "--workers", 64), (Workers{1, 2, 4, 12}));
  EXPECT_EQ(parse_workers("24,1..8", "--workers", 64), (Workers{1, 2, 4, 8, 24}));
}

TEST(ParseWorkers, SortsAndRemovesDuplicates) {
  EXPECT_EQ(parse_workers("8,2,2,1,8", "--workers", 64), (Workers{1, 2, 8}));
  EXPECT_EQ(parse_workers("1..4,2,4,1..2", "--workers", 64), (Workers{1, 2, 4}));
}

TEST(ParseWorkers, AcceptsTheMaximum) {
  EXPECT_EQ(parse_workers("64", "--workers", 64), (Workers{64}));
}

TEST(ParseWorkers, RejectsZeroAndNegative) {
  EXPECT_TRUE(rejects_workers("0"));
  EXPECT_TRUE(rejects_workers("-1"));
  EXPECT_TRUE(rejects_workers("1,0,2"));
  EXPECT_TRUE(rejects_workers("0..4"));
}

TEST(ParseWorkers, RejectsBackwardRange) {
  EXPECT_TRUE(rejects_workers("4..2"));
}

TEST(ParseWorkers, RejectsEmptyItems) {
  for (const char* text : {"", " ", "1,,2", "1,", ",1", ",", "1, ,2"}) {
    EXPECT_TRUE(rejects_workers(text));
  }
}

TEST(ParseWorkers, RejectsOverTheMaximum) {
  EXPECT_TRUE(rejects_workers("65"));
  EXPECT_TRUE(rejects_workers("1..65"));
  EXPECT_TRUE(rejects_workers("1,2,100"));
  EXPECT_TRUE(rejects_workers("99999999999999999999"));
}

TEST(ParseWorkers, HugeRangesStayPowersOfTwo) {
  constexpr int int_max = std::numeric_limits<int>::max();
  const Workers all = parse_workers("1..2147483647", "--workers", int_max);
  ASSERT_EQ(all.size(), 32u);
  EXPECT_EQ(all.front(), 1);
  EXPECT_EQ(all[30], 1 << 30);
  EXPECT_EQ(all.back(), int_max);
  EXPECT_EQ(parse_workers("1073741825..2147483647", "--workers", int_max),
            (Workers{1073741825, int_max}));
  EXPECT_TRUE(rejects_workers("1..2147483647"));
  EXPECT_TRUE(rejects_workers("1..2147483648"));
  EXPECT_TRUE(rejects_workers("1..99999999999999999999"));
}

TEST(ParseWorkers, RejectsReversedRangesWhateverTheirSize) {
  for (const char* text : {"8..1", "64..1", "2..1,4", "1,64..63"}) {
    EXPECT_TRUE(rejects_workers(text));
  }
}

TEST(ParseWorkers, RejectsSignsExponentsAndNuls) {
  for (const char* text : {"+4", "-0", "-0..4", "1..-4", "1e1", "0x10", "4 workers", "1..4 x"}) {
    EXPECT_TRUE(rejects_workers(text));
  }
  EXPECT_TRUE(rejects_workers("4" + nul));
  EXPECT_TRUE(rejects_workers("1.." + nul + "4"));
}

TEST(ParseWorkers, RejectsGarbage) {
  for (const char* text : {"abc", "1..", "..4", "1..x", "2.5", "1...4", "1-4", "1..4..8", "two"}) {
    EXPECT_TRUE(rejects_workers(text));
  }
}

// --- parse_name_list ------------------------------------------------------------------------

using Names = std::vector<std::string>;

TEST(ParseNameList, SplitsOnCommasInOrder) {
  EXPECT_EQ(parse_name_list("cpu,io", "--workload"), (Names{"cpu", "io"}));
  EXPECT_EQ(parse_name_list("threads,serial,async", "--model"),
            (Names{"threads", "serial", "async"}));
  EXPECT_EQ(parse_name_list("cpu", "--workload"), (Names{"cpu"}));
}

TEST(ParseNameList, TrimsSpaces) {
  EXPECT_EQ(parse_name_list(" cpu , io\t", "--workload"), (Names{"cpu", "io"}));
}

TEST(ParseNameList, RejectsEmptyItems) {
  for (const char* text : {"", " ", "cpu,", ",cpu", "cpu,,io", "cpu, ,io", ","}) {
    EXPECT_TRUE(throws_naming([&] { parse_name_list(text, "--model"); }, "--model"))
        << "'" << text << "'";
  }
}

TEST(ParseNameList, RemovesDuplicatesKeepingTheFirst) {
  EXPECT_EQ(parse_name_list("io,cpu,io, cpu", "--workload"), (Names{"io", "cpu"}));
}

TEST(ParseNameList, AHugeListOfDistinctNamesIsFast) {
  // Duplicates are found through a set, not by scanning every name seen so far: 200 000 names
  // would otherwise take ~2·10¹⁰ comparisons.
  std::string text;
  for (int i = 0; i < 200000; ++i) {
    text += 'n';  // appended piecewise: g++ 12 -O3 warns falsely (-Wrestrict) on "n" + string
    text += std::to_string(i);
    text += ',';
  }
  text += "last";
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(parse_name_list(text, "--model").size(), 200001u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

// --- format_duration ------------------------------------------------------------------------

TEST(FormatDuration, PicksTheUnitPeopleWrite) {
  EXPECT_EQ(format_duration(0.020), "20ms");
  EXPECT_EQ(format_duration(1.5), "1.5s");
  EXPECT_EQ(format_duration(250e-6), "250us");
  EXPECT_EQ(format_duration(100e-9), "100ns");
  EXPECT_EQ(format_duration(2.0), "2s");
  EXPECT_EQ(format_duration(1.0), "1s");
  EXPECT_EQ(format_duration(0.001), "1ms");
  EXPECT_EQ(format_duration(0.0015), "1.5ms");
  EXPECT_EQ(format_duration(4.48e-3), "4.48ms");
}

TEST(FormatDuration, KeepsAtMostThreeDecimals) {
  EXPECT_EQ(format_duration(327.295e-6), "327.295us");
  EXPECT_EQ(format_duration(1.23456), "1.235s");
}

TEST(FormatDuration, Zero) {
  EXPECT_EQ(format_duration(0.0), "0ns");
}

TEST(FormatDuration, RoundsUpAcrossAUnitBoundary) {
  // 0.9999996 s rounds to 1000.000 ms at three decimals; people write that as 1s.
  EXPECT_EQ(format_duration(0.9999996), "1s");
  EXPECT_EQ(format_duration(0.9999996e-3), "1ms");
}

TEST(FormatDuration, ParsesBackToTheSameDuration) {
  for (const auto d : {std::chrono::nanoseconds(100ns), std::chrono::nanoseconds(250us),
                       std::chrono::nanoseconds(20ms), std::chrono::nanoseconds(1500ms),
                       std::chrono::nanoseconds(90s)}) {
    const std::string text = format_duration(std::chrono::duration<double>(d).count());
    EXPECT_EQ(parse_duration(text, "--io-wait"), d) << text;
  }
}

}  // namespace
