// Latency histograms (src/sweep/histogram.cpp): quantiles against exact ones on known data,
// the edge cases, the JSON form, and start delays.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "scalelab/error.hpp"
#include "scalelab/histogram.hpp"

namespace scalelab {
namespace {

// The nearest-rank quantile of `values` (sorted here).
double exact_quantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const auto rank = std::max<std::size_t>(
      1, static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size()))));
  return values[rank - 1];
}

void expect_close_quantiles(const std::vector<double>& values) {
  LatencyHistogram h;
  for (const double v : values) h.add(v);
  ASSERT_EQ(h.count(), values.size());
  for (const double q : {0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0}) {
    const double exact = exact_quantile(values, q);
    const double got = h.quantile_s(q);
    EXPECT_LE(std::abs(got - exact), exact / 32 + 1e-9) << "q=" << q << " exact " << exact;
  }
  EXPECT_EQ(h.min_s(), *std::min_element(values.begin(), values.end()));
  EXPECT_EQ(h.max_s(), *std::max_element(values.begin(), values.end()));
}

TEST(LatencyHistogram, QuantilesAreWithinAThirtySecondOfTheExactOnes) {
  std::vector<double> uniform;
  for (int i = 1; i <= 100000; ++i) uniform.push_back(i * 1e-9);  // 1 ns … 100 µs
  expect_close_quantiles(uniform);

  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> spread(std::log(20e-3), 0.5);  // around 20 ms
  std::vector<double> waits;
  for (int i = 0; i < 50000; ++i) waits.push_back(std::round(spread(rng) * 1e9) * 1e-9);
  expect_close_quantiles(waits);

  std::vector<double> tail(999, 1e-3);  // one slow task in a thousand
  tail.push_back(2.5);
  expect_close_quantiles(tail);
}

// Merging is adding every value of the other: the same buckets, count, min and max as one
// histogram of both sets; an empty one changes nothing and takes the other's min.
TEST(LatencyHistogram, MergeIsTheHistogramOfBothSets) {
  LatencyHistogram a, b, both;
  for (int i = 0; i < 500; ++i) {
    const double x = 1e-6 * (i * 37 % 1000 + 1), y = 3e-3 * (i % 7 + 1);
    a.add(x);
    b.add(y);
    both.add(x);
    both.add(y);
  }
  LatencyHistogram merged = a;
  merged.merge(b);
  EXPECT_EQ(merged, both);
  LatencyHistogram empty;
  merged.merge(empty);
  EXPECT_EQ(merged, both);
  empty.merge(b);
  EXPECT_EQ(empty, b);
  EXPECT_DOUBLE_EQ(empty.min_s(), b.min_s());
}

TEST(LatencyHistogram, EdgeCases) {
  const LatencyHistogram empty;
  EXPECT_EQ(empty.count(), 0u);
  EXPECT_EQ(empty.quantile_s(0.5), 0);
  EXPECT_EQ(empty.max_s(), 0);

  LatencyHistogram one;
  one.add(0.020);
  for (const double q : {0.0, 0.5, 1.0}) EXPECT_DOUBLE_EQ(one.quantile_s(q), 0.020);

  LatencyHistogram equal;
  for (int i = 0; i < 1000; ++i) equal.add(1.0);
  EXPECT_DOUBLE_EQ(equal.quantile_s(0.999), 1.0);  // clamped to min = max

  LatencyHistogram odd;
  odd.add(-1.0);          // a clock step backwards counts as 0
  odd.add(std::nan(""));  // and so does NaN
  EXPECT_EQ(odd.count(), 2u);
  EXPECT_EQ(odd.max_s(), 0);
}

TEST(LatencyHistogram, BucketsCoverEveryValueOnceAndAreAtMostASixteenthWide) {
  for (std::uint64_t ns : {0ULL, 1ULL, 15ULL, 16ULL, 17ULL, 31ULL, 32ULL, 1000ULL, 999999ULL,
                           1000000007ULL, 1ULL << 62}) {
    const auto b = LatencyHistogram::bucket_of(ns);
    EXPECT_LE(LatencyHistogram::bucket_low(b), ns);
    EXPECT_GT(LatencyHistogram::bucket_high(b), ns);
    const auto width = LatencyHistogram::bucket_high(b) - LatencyHistogram::bucket_low(b);
    EXPECT_LE(width * 16, std::max<std::uint64_t>(LatencyHistogram::bucket_low(b), 16));
    if (b > 0) {
      EXPECT_EQ(LatencyHistogram::bucket_high(b - 1), LatencyHistogram::bucket_low(b));
    }
  }
}

TEST(LatencyHistogram, JsonRoundTripsAndAMillionTasksStaySmall) {
  LatencyHistogram h;
  std::mt19937_64 rng(3);
  std::exponential_distribution<double> gaps(1000.0);
  for (int i = 0; i < 1000000; ++i) h.add(1.0 + gaps(rng));
  const auto json = h.to_json();
  EXPECT_LT(json.dump().size(), 2000u);
  EXPECT_EQ(LatencyHistogram::from_json(json, "task_duration"), h);
  EXPECT_EQ(json.at("count"), 1000000);
  EXPECT_DOUBLE_EQ(json.at("p99_s").get<double>(), h.quantile_s(0.99));
}

TEST(LatencyHistogram, MalformedJsonNamesTheField) {
  for (const char* bad :
       {R"([1, 2])", R"({"count": 1})", R"({"buckets": [[1]]})", R"({"buckets": [[1, 2]]})",
        R"({"buckets": [[1, 9007199254740992], [2, 9007199254740992]],
                          "min_s": 0, "max_s": 1})",
        R"({"buckets": [[-1, 2]], "min_s": 0,
                          "max_s": 1})",
        R"({"buckets": [[3, 1]], "min_s": 2, "max_s": 1})"}) {
    try {
      (void)LatencyHistogram::from_json(nlohmann::json::parse(bad), "start_delay");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("start_delay"), std::string::npos) << e.what();
    }
  }
}

TEST(StartDelays, CountFromWhenAWorkerWasFree) {
  // Two workers; tasks [0, 1), [0.1, 1.1), then two that start 0.05 s after a worker freed up.
  const std::vector<double> starts = {0.0, 0.1, 1.05, 1.15};
  const std::vector<double> ends = {1.0, 1.1, 2.0, 2.1};
  const auto delays = start_delays(starts, ends, 2);
  ASSERT_EQ(delays.count(), 4u);
  EXPECT_DOUBLE_EQ(delays.min_s(), 0.0);
  EXPECT_NEAR(delays.max_s(), 0.1, 1e-9);  // the second task, 0.1 s after the start
  EXPECT_NEAR(delays.quantile_s(0.75), 0.05, 0.05 / 32 + 1e-9);  // both later ones: 0.05 s
  // One worker: every task waits for the one before it.
  const auto serial = start_delays({0.0, 1.0, 2.5}, {1.0, 2.0, 3.0}, 1);
  EXPECT_NEAR(serial.max_s(), 0.5, 1e-9);
}

}  // namespace
}  // namespace scalelab
