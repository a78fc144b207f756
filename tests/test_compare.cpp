// The Mann–Whitney U test against hand-computed values, and comparing two runs point by point
// on hand-built trials.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "scalelab/analysis.hpp"
#include "scalelab/trial.hpp"
#include "support/helpers.hpp"

namespace {

using scalelab::compare_runs;
using scalelab::ComparisonRow;
using scalelab::mann_whitney;
using scalelab::Trial;
using scalelab::testing::add_point;
using scalelab::testing::make_trial;

// Eight walls around `median`, spread ±4 %, no two equal.
std::vector<double> walls_around(double median) {
  std::vector<double> walls;
  for (double offset : {-0.04, -0.03, -0.02, -0.01, 0.01, 0.02, 0.03, 0.04}) {
    walls.push_back(median * (1 + offset));
  }
  return walls;
}

// --- mann_whitney ---------------------------------------------------------------------------

TEST(CompareMannWhitney, ThreeAgainstThreeFullySeparatedIsExactPointOne) {
  // U = 0 is one ordering of C(6, 3) = 20; two-sided doubles it: p = 2 / 20.
  const std::vector<double> low{1, 2, 3}, high{4, 5, 6};
  const auto below = mann_whitney(low, high);
  EXPECT_TRUE(below.exact);
  EXPECT_EQ(below.u, 0);
  EXPECT_DOUBLE_EQ(below.p_value, 0.1);
  const auto above = mann_whitney(high, low);
  EXPECT_EQ(above.u, 9);
  EXPECT_DOUBLE_EQ(above.p_value, 0.1);
}

TEST(CompareMannWhitney, FourAgainstFourFullySeparated) {
  // One ordering of C(8, 4) = 70 at each extreme: p = 2 / 70 ≈ 0.0286.
  const std::vector<double> a{0.51, 0.50, 0.52, 0.49}, b{1.01, 0.99, 1.02, 1.00};
  const auto result = mann_whitney(a, b);
  EXPECT_TRUE(result.exact);
  EXPECT_EQ(result.u, 0);
  EXPECT_DOUBLE_EQ(result.p_value, 2.0 / 70);
}

TEST(CompareMannWhitney, InterleavedExactMatchesTheUDistribution) {
  // a = {1, 3, 5}, b = {2, 4, 6}: ranks of a sum to 9, U = 9 − 6 = 3. For 3 against 3 the
  // counts of U = 0…9 are 1 1 2 3 3 3 3 2 1 1, so P(U ≤ 3) = 7 / 20 and p = 0.7 (scipy's
  // mannwhitneyu([1,3,5], [2,4,6]) agrees).
  const std::vector<double> a{5, 1, 3}, b{2, 6, 4};
  const auto result = mann_whitney(a, b);
  EXPECT_TRUE(result.exact);
  EXPECT_EQ(result.u, 3);
  EXPECT_DOUBLE_EQ(result.p_value, 0.7);
}

TEST(CompareMannWhitney, FiveAgainstFiveSeparated) {
  // 2 / C(10, 5) = 2 / 252.
  const std::vector<double> a{1, 2, 3, 4, 5}, b{6, 7, 8, 9, 10};
  const auto result = mann_whitney(a, b);
  EXPECT_TRUE(result.exact);
  EXPECT_DOUBLE_EQ(result.p_value, 2.0 / 252);
}

TEST(CompareMannWhitney, IdenticalSamplesGiveOne) {
  // Every value tied across the samples: normal approximation, U at its mean, p capped at 1.
  const std::vector<double> a{1, 2, 3};
  const auto result = mann_whitney(a, a);
  EXPECT_FALSE(result.exact);
  EXPECT_DOUBLE_EQ(result.u, 4.5);
  EXPECT_EQ(result.p_value, 1);
  const std::vector<double> equal{0.5, 0.5, 0.5};
  EXPECT_EQ(mann_whitney(equal, equal).p_value, 1);
}

TEST(CompareMannWhitney, TiesUseMidranksAndTheCorrectedNormalApproximation) {
  // a = {1, 2, 2, 3}, b = {2, 3, 4, 4}. Midranks: 1 → 1, the 2s → 3, the 3s → 5.5, the 4s → 7.5.
  // R_a = 1 + 3 + 3 + 5.5 = 12.5, U = 12.5 − 10 = 2.5. Ties 3, 2, 2: Σ(t³ − t) = 36.
  // σ² = 16/12 · (9 − 36/56) = 11.1429; z = (|2.5 − 8| − 0.5) / σ = 1.49786;
  // p = erfc(z / √2) = 0.134169 (scipy's asymptotic method gives the same).
  const std::vector<double> a{1, 2, 2, 3}, b{2, 3, 4, 4};
  const auto result = mann_whitney(a, b);
  EXPECT_FALSE(result.exact);
  EXPECT_DOUBLE_EQ(result.u, 2.5);
  EXPECT_NEAR(result.p_value, 0.13416918, 1e-7);
}

TEST(CompareMannWhitney, LargeSamplesUseTheNormalApproximation) {
  // 25 against 25 separated: U = 0, mean 312.5, σ² = 625 · 51 / 12; z = 312 / σ = 6.0537.
  std::vector<double> a, b;
  for (int i = 1; i <= 25; ++i) {
    a.push_back(i);
    b.push_back(i + 25);
  }
  const auto result = mann_whitney(a, b);
  EXPECT_FALSE(result.exact);
  EXPECT_EQ(result.u, 0);
  EXPECT_NEAR(result.p_value, 1.4156562e-9, 1e-15);
}

TEST(CompareMannWhitney, TwentyIsStillExactTwentyOneIsNot) {
  std::vector<double> a, b;
  for (int i = 0; i < 20; ++i) {
    a.push_back(i);
    b.push_back(i + 0.5);
  }
  EXPECT_TRUE(mann_whitney(a, b).exact);
  a.push_back(100);
  EXPECT_FALSE(mann_whitney(a, b).exact);
  EXPECT_FALSE(mann_whitney(b, a).exact);
}

TEST(CompareMannWhitney, EdgeCases) {
  const std::vector<double> some{1, 2};
  for (const auto& result :
       {mann_whitney({}, some), mann_whitney(some, {}), mann_whitney({}, {})}) {
    EXPECT_EQ(result.u, 0);
    EXPECT_EQ(result.p_value, 1);
    EXPECT_FALSE(result.exact);
  }
  // One against one: either ordering is half the outcomes, so p = 1.
  const std::vector<double> one{1}, two{2};
  const auto single = mann_whitney(one, two);
  EXPECT_TRUE(single.exact);
  EXPECT_EQ(single.p_value, 1);
}

// --- compare_runs ---------------------------------------------------------------------------

TEST(CompareRuns, FasterSlowerAndNoDifference) {
  std::vector<Trial> a, b;
  add_point(a, "cpu", "threads", 2, walls_around(1.0));
  add_point(b, "cpu", "threads", 2, walls_around(0.5));  // B twice as fast
  add_point(a, "cpu", "threads", 4, walls_around(0.5));
  add_point(b, "cpu", "threads", 4, walls_around(0.6));  // B 20 % slower
  add_point(a, "cpu", "threads", 8, walls_around(0.5));
  add_point(b, "cpu", "threads", 8, walls_around(0.5));  // the same
  const auto rows = compare_runs(a, b, 1);
  ASSERT_EQ(rows.size(), 3u);

  EXPECT_EQ(rows[0].workers, 2);
  EXPECT_NEAR(rows[0].ratio, 0.5, 1e-12);
  EXPECT_TRUE(rows[0].ratio_ci.contains(0.5));
  EXPECT_LT(rows[0].ratio_ci.high, 1);
  EXPECT_TRUE(rows[0].test.exact);
  EXPECT_DOUBLE_EQ(rows[0].test.p_value, 2.0 / 12870);  // 2 / C(16, 8)
  EXPECT_EQ(rows[0].verdict, "faster");
  EXPECT_EQ(rows[0].a.n, 8u);
  EXPECT_DOUBLE_EQ(rows[0].a.median, 1.0);
  EXPECT_DOUBLE_EQ(rows[0].b.median, 0.5);

  EXPECT_EQ(rows[1].workers, 4);
  EXPECT_NEAR(rows[1].ratio, 1.2, 1e-12);
  EXPECT_GT(rows[1].ratio_ci.low, 1);
  EXPECT_EQ(rows[1].verdict, "slower");

  EXPECT_EQ(rows[2].workers, 8);
  EXPECT_DOUBLE_EQ(rows[2].ratio, 1);
  EXPECT_TRUE(rows[2].ratio_ci.contains(1));
  EXPECT_EQ(rows[2].test.p_value, 1);
  EXPECT_EQ(rows[2].verdict, "no significant difference");
}

// Two scans: each point is compared with the same point of the other run, never pooled.
TEST(CompareRuns, ScanPointsAreComparedApart) {
  std::vector<Trial> a, b;
  const auto at = [](std::vector<Trial>& trials, double wait, const std::vector<double>& walls) {
    const std::size_t first = trials.size();
    add_point(trials, "io", "threads", 2, walls);
    for (std::size_t i = first; i < trials.size(); ++i) trials[i].point = {{"io_wait_s", wait}};
  };
  // Recorded in another order, and 0.01 before 0.002 as text: the rows go by value.
  at(a, 0.01, walls_around(1.0));
  at(b, 0.01, walls_around(1.5));  // B slower at 10 ms
  at(a, 0.002, walls_around(1.0));
  at(b, 0.002, walls_around(0.5));  // B faster at 2 ms
  const auto rows = compare_runs(a, b, 1);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].point, (nlohmann::json{{"io_wait_s", 0.002}}));
  EXPECT_EQ(rows[0].verdict, "faster");
  EXPECT_EQ(rows[1].point, (nlohmann::json{{"io_wait_s", 0.01}}));
  EXPECT_EQ(rows[1].verdict, "slower");
}

TEST(CompareRuns, TooFewTrialsAreNeverSignificant) {
  // 3 against 3 fully separated: the ratio CI excludes 1, but the smallest exact p is 0.1.
  std::vector<Trial> a, b;
  add_point(a, "io", "async", 4, {1.00, 1.01, 1.02});
  add_point(b, "io", "async", 4, {0.50, 0.51, 0.52});
  const auto rows = compare_runs(a, b);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_LT(rows[0].ratio_ci.high, 1);
  EXPECT_DOUBLE_EQ(rows[0].test.p_value, 0.1);
  EXPECT_EQ(rows[0].verdict, "no significant difference");
}

TEST(CompareRuns, OnlyPointsInBothRunsInRunAsOrder) {
  std::vector<Trial> a, b;
  add_point(a, "io", "threads", 4, {1.0});
  add_point(a, "cpu", "serial", 1, {1.0});
  add_point(a, "io", "threads", 2, {1.0});
  add_point(a, "cpu", "threads", 2, {1.0});
  add_point(a, "cpu", "async", 2, {1.0});  // not in B
  add_point(b, "cpu", "threads", 2, {1.0});
  add_point(b, "cpu", "serial", 1, {1.0});
  add_point(b, "io", "threads", 2, {1.0});
  add_point(b, "io", "threads", 4, {1.0});
  add_point(b, "mixed", "threads", 2, {1.0});  // not in A
  const auto rows = compare_runs(a, b);
  std::vector<std::string> got;
  for (const auto& row : rows) {
    got.push_back(row.workload + " " + row.model + " " + std::to_string(row.workers));
  }
  // Workloads as A first shows them (io, cpu), models likewise (threads, serial), then workers.
  EXPECT_EQ(got, (std::vector<std::string>{"io threads 2", "io threads 4", "cpu threads 2",
                                           "cpu serial 1"}));
}

TEST(CompareRuns, WarmUpsAndFailedTrialsAreLeftOut) {
  std::vector<Trial> a, b;
  a.push_back(make_trial("cpu", "threads", 2, -1, 50.0));
  add_point(a, "cpu", "threads", 2, {1.0, 1.0});
  a.push_back(make_trial("cpu", "threads", 2, 2, 0.001, "boom"));
  add_point(b, "cpu", "threads", 2, {2.0});
  b.push_back(make_trial("cpu", "threads", 2, 1, 0.001, "boom"));
  // A point that only failed in B has nothing to compare.
  add_point(a, "cpu", "threads", 4, {1.0});
  b.push_back(make_trial("cpu", "threads", 4, 0, 0.5, "boom"));
  const auto rows = compare_runs(a, b);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].a.n, 2u);
  EXPECT_EQ(rows[0].b.n, 1u);
  EXPECT_DOUBLE_EQ(rows[0].ratio, 2);
  EXPECT_DOUBLE_EQ(rows[0].ratio_ci.low, 2);
  EXPECT_DOUBLE_EQ(rows[0].ratio_ci.high, 2);
}

TEST(CompareRuns, ReRunsCountOnceAndDisturbedAttemptsAreLeftOut) {
  // Run B reran every planned trial after a disturbed first attempt: its disturbed (slow)
  // attempts must neither double the sample nor drag its median.
  std::vector<Trial> a, b;
  add_point(a, "cpu", "threads", 2, walls_around(1.0));
  const auto walls = walls_around(0.5);
  for (std::size_t r = 0; r < walls.size(); ++r) {
    Trial slow = make_trial("cpu", "threads", 2, static_cast<int>(r), 5.0);
    slow.disturbed = true;
    Trial rerun = make_trial("cpu", "threads", 2, static_cast<int>(r), walls[r]);
    rerun.attempt = 1;
    b.push_back(slow);
    b.push_back(rerun);
  }
  const auto rows = compare_runs(a, b);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].a.n, 8u);
  EXPECT_EQ(rows[0].b.n, 8u);
  EXPECT_DOUBLE_EQ(rows[0].b.median, 0.5);
  EXPECT_EQ(rows[0].verdict, "faster");
}

TEST(CompareRuns, DeterministicForASeed) {
  std::vector<Trial> a, b;
  add_point(a, "cpu", "threads", 2, {1.0, 1.2, 0.9, 1.1, 1.05});
  add_point(b, "cpu", "threads", 2, {0.8, 1.1, 0.95, 0.9, 1.0});
  const auto first = compare_runs(a, b, 5);
  const auto second = compare_runs(a, b, 5);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(first[0].ratio_ci.low, second[0].ratio_ci.low);
  EXPECT_EQ(first[0].ratio_ci.high, second[0].ratio_ci.high);
  EXPECT_EQ(first[0].test.p_value, second[0].test.p_value);
  EXPECT_EQ(first[0].verdict, second[0].verdict);
}

TEST(CompareRuns, EmptyRunsGiveNoRows) {
  std::vector<Trial> a;
  add_point(a, "cpu", "threads", 2, {1.0});
  EXPECT_TRUE(compare_runs({}, {}).empty());
  EXPECT_TRUE(compare_runs(a, {}).empty());
  EXPECT_TRUE(compare_runs({}, a).empty());
}

}  // namespace
