// Descriptive statistics and the summary (speedup, efficiency, baseline choice), on hand-built
// trials whose figures are known exactly.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "scalelab/analysis.hpp"
#include "scalelab/trial.hpp"
#include "support/helpers.hpp"

namespace {

using scalelab::AnalysisOptions;
using scalelab::bootstrap_median_ci;
using scalelab::bootstrap_ratio_ci;
using scalelab::Boundness;
using scalelab::describe;
using scalelab::Interval;
using scalelab::quantile;
using scalelab::Stats;
using scalelab::summarize;
using scalelab::SummaryRow;
using scalelab::Trial;
using scalelab::testing::add_point;
using scalelab::testing::make_trial;

// Like add_point, with every trial keeping `cpu_util` cores busy (user CPU = util × wall).
void add_point_util(std::vector<Trial>& trials, const std::string& workload,
                    const std::string& model, int workers, const std::vector<double>& walls,
                    double cpu_util) {
  for (std::size_t r = 0; r < walls.size(); ++r) {
    Trial t = make_trial(workload, model, workers, static_cast<int>(r), walls[r]);
    t.user_s = walls[r] * cpu_util;
    trials.push_back(t);
  }
}

const SummaryRow& find_row(const std::vector<SummaryRow>& rows, const std::string& workload,
                           const std::string& model, int workers) {
  for (const auto& row : rows) {
    if (row.workload == workload && row.model == model && row.workers == workers) return row;
  }
  ADD_FAILURE() << "no row for " << workload << " " << model << "@" << workers;
  static const SummaryRow none;
  return none;
}

// Compares every field exactly, for the edge cases whose answers involve no rounding at all.
void expect_exactly(const Stats& got, const Stats& want) {
  EXPECT_EQ(got.n, want.n);
  EXPECT_EQ(got.min, want.min);
  EXPECT_EQ(got.max, want.max);
  EXPECT_EQ(got.mean, want.mean);
  EXPECT_EQ(got.median, want.median);
  EXPECT_EQ(got.stddev, want.stddev);
  EXPECT_EQ(got.cv, want.cv);
  EXPECT_EQ(got.p90, want.p90);
}

// Checks the three figures a scaling claim rests on together: speedup, efficiency and the
// baseline they were measured against.
void expect_scaling(const SummaryRow& row, double speedup, double efficiency,
                    const std::string& baseline) {
  const std::string point = row.workload + " " + row.model + "@" + std::to_string(row.workers);
  ASSERT_TRUE(row.speedup.has_value()) << point;
  EXPECT_DOUBLE_EQ(*row.speedup, speedup) << point;
  ASSERT_TRUE(row.efficiency.has_value()) << point;
  EXPECT_DOUBLE_EQ(*row.efficiency, efficiency) << point;
  EXPECT_EQ(row.baseline, baseline) << point;
}

// --- describe -------------------------------------------------------------------------------

TEST(StatsDescribe, EmptySampleIsAllZero) {
  expect_exactly(describe({}), Stats{});
}

TEST(StatsDescribe, OnePoint) {
  const std::vector<double> values{2.5};
  expect_exactly(describe(values), {.n = 1,
                                    .min = 2.5,
                                    .max = 2.5,
                                    .mean = 2.5,
                                    .median = 2.5,
                                    .stddev = 0,
                                    .cv = 0,
                                    .p90 = 2.5});
}

TEST(StatsDescribe, AllEqualHasNoSpread) {
  const std::vector<double> values{0.3, 0.3, 0.3, 0.3, 0.3};
  const auto s = describe(values);
  EXPECT_EQ(s.n, 5u);
  EXPECT_DOUBLE_EQ(s.median, 0.3);
  EXPECT_DOUBLE_EQ(s.mean, 0.3);
  EXPECT_DOUBLE_EQ(s.min, 0.3);
  EXPECT_DOUBLE_EQ(s.max, 0.3);
  EXPECT_NEAR(s.stddev, 0, 1e-15);
  EXPECT_NEAR(s.cv, 0, 1e-15);
}

TEST(StatsDescribe, OddMedianIsTheMiddleValueOfUnsortedInput) {
  const std::vector<double> values{5, 1, 3};
  const auto s = describe(values);
  EXPECT_EQ(s.median, 3);
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.max, 5);
  EXPECT_EQ(s.mean, 3);
}

TEST(StatsDescribe, EvenMedianIsTheMeanOfTheTwoMiddleValues) {
  const std::vector<double> values{4, 1, 3, 2};
  const auto s = describe(values);
  EXPECT_DOUBLE_EQ(s.median, 2.5);
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  const std::vector<double> two{1, 10};
  EXPECT_DOUBLE_EQ(describe(two).median, 5.5);
}

TEST(StatsDescribe, SampleStandardDeviation) {
  // Deviations from the mean 5 square to 32; the sample variance divides by n - 1 = 7.
  const std::vector<double> values{2, 4, 4, 4, 5, 5, 7, 9};
  const auto s = describe(values);
  EXPECT_DOUBLE_EQ(s.mean, 5);
  EXPECT_DOUBLE_EQ(s.median, 4.5);
  EXPECT_DOUBLE_EQ(s.stddev, std::sqrt(32.0 / 7.0));
  EXPECT_DOUBLE_EQ(s.cv, std::sqrt(32.0 / 7.0) / 5);
}

TEST(StatsDescribe, TwoPoints) {
  const std::vector<double> values{1, 3};
  const auto s = describe(values);
  EXPECT_DOUBLE_EQ(s.stddev, std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(s.cv, std::sqrt(2.0) / 2);
}

TEST(StatsDescribe, ZeroMeanGivesZeroCv) {
  const std::vector<double> values{-1, 1};
  const auto s = describe(values);
  EXPECT_EQ(s.mean, 0);
  EXPECT_DOUBLE_EQ(s.stddev, std::sqrt(2.0));
  EXPECT_EQ(s.cv, 0);
}

TEST(StatsDescribe, DoesNotReorderItsInput) {
  const std::vector<double> values{3, 1, 2};
  describe(values);
  EXPECT_EQ(values, (std::vector<double>{3, 1, 2}));
}

TEST(StatsDescribe, P90InterpolatesBetweenOrderStatistics) {
  // 1..10: h = 9 × 0.9 = 8.1, so 0.1 of the way from the 9th value (9) to the 10th (10).
  const std::vector<double> values{10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
  EXPECT_DOUBLE_EQ(describe(values).p90, 9.1);
  const std::vector<double> equal{0.4, 0.4, 0.4};
  EXPECT_DOUBLE_EQ(describe(equal).p90, 0.4);
}

// --- quantile -------------------------------------------------------------------------------

TEST(StatsQuantile, Type7MatchesHandValues) {
  // Hyndman & Fan type 7 on {1, 2, 3, 4}: h = 3p, x[⌊h⌋] + (h − ⌊h⌋)(x[⌊h⌋+1] − x[⌊h⌋]);
  // R's quantile(c(1,2,3,4), c(0, .25, .5, .9, 1)) gives 1, 1.75, 2.5, 3.7, 4.
  const std::vector<double> values{4, 2, 1, 3};
  EXPECT_DOUBLE_EQ(quantile(values, 0), 1);
  EXPECT_DOUBLE_EQ(quantile(values, 0.25), 1.75);
  EXPECT_DOUBLE_EQ(quantile(values, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(quantile(values, 0.9), 3.7);
  EXPECT_DOUBLE_EQ(quantile(values, 1), 4);
}

TEST(StatsQuantile, EdgeCases) {
  EXPECT_EQ(quantile({}, 0.5), 0);
  const std::vector<double> one{7.5};
  for (double p : {0.0, 0.3, 1.0}) EXPECT_EQ(quantile(one, p), 7.5) << p;
  const std::vector<double> equal{2, 2, 2, 2};
  EXPECT_EQ(quantile(equal, 0.37), 2);
  // p outside [0, 1] is clamped rather than read past either end.
  const std::vector<double> values{1, 2, 3};
  EXPECT_EQ(quantile(values, -1), 1);
  EXPECT_EQ(quantile(values, 2), 3);
}

TEST(StatsQuantile, MedianAgreesWithDescribe) {
  const std::vector<double> values{0.9, 1.4, 1.1, 1.0, 3.2, 1.2};
  EXPECT_DOUBLE_EQ(quantile(values, 0.5), describe(values).median);
}

// --- bootstrap ------------------------------------------------------------------------------

TEST(StatsBootstrap, SameSeedGivesTheSameInterval) {
  const std::vector<double> values{1.02, 0.98, 1.10, 0.95, 1.01, 1.30, 0.99};
  const Interval first = bootstrap_median_ci(values, 42);
  const Interval second = bootstrap_median_ci(values, 42);
  EXPECT_EQ(first.low, second.low);
  EXPECT_EQ(first.high, second.high);
  const Interval ratio_first = bootstrap_ratio_ci(values, values, 7);
  const Interval ratio_second = bootstrap_ratio_ci(values, values, 7);
  EXPECT_EQ(ratio_first.low, ratio_second.low);
  EXPECT_EQ(ratio_first.high, ratio_second.high);
}

TEST(StatsBootstrap, MedianIntervalContainsTheMedianWithinTheSample) {
  const std::vector<double> values{1.02, 0.98, 1.10, 0.95, 1.01, 1.30, 0.99};
  const auto s = describe(values);
  for (std::uint64_t seed : {0ULL, 1ULL, 12345ULL}) {
    const Interval ci = bootstrap_median_ci(values, seed);
    EXPECT_TRUE(ci.contains(s.median)) << seed << ": [" << ci.low << ", " << ci.high << "]";
    EXPECT_GE(ci.low, s.min);
    EXPECT_LE(ci.high, s.max);
    EXPECT_LT(ci.low, ci.high);  // seven distinct values do not resample to one median
  }
}

TEST(StatsBootstrap, EdgeCases) {
  const Interval empty = bootstrap_median_ci({}, 1);
  EXPECT_EQ(empty.low, 0);
  EXPECT_EQ(empty.high, 0);
  const std::vector<double> one{0.25};
  const Interval single = bootstrap_median_ci(one, 1);
  EXPECT_EQ(single.low, 0.25);
  EXPECT_EQ(single.high, 0.25);
  const std::vector<double> equal{0.5, 0.5, 0.5, 0.5};
  const Interval flat = bootstrap_median_ci(equal, 1);
  EXPECT_EQ(flat.low, 0.5);
  EXPECT_EQ(flat.high, 0.5);
}

TEST(StatsBootstrap, RatioOfConstantSamplesIsExact) {
  const std::vector<double> baseline{2, 2, 2}, point{0.5, 0.5};
  const Interval ci = bootstrap_ratio_ci(baseline, point, 3);
  EXPECT_DOUBLE_EQ(ci.low, 4);
  EXPECT_DOUBLE_EQ(ci.high, 4);
  const std::vector<double> one{1};
  const Interval single = bootstrap_ratio_ci(one, point, 3);
  EXPECT_DOUBLE_EQ(single.low, 2);
  EXPECT_DOUBLE_EQ(single.high, 2);
}

TEST(StatsBootstrap, RatioWithAnEmptySideIsZero) {
  const std::vector<double> values{1, 2, 3};
  for (const Interval& ci : {bootstrap_ratio_ci({}, values, 1), bootstrap_ratio_ci(values, {}, 1),
                             bootstrap_ratio_ci({}, {}, 1)}) {
    EXPECT_EQ(ci.low, 0);
    EXPECT_EQ(ci.high, 0);
  }
}

TEST(StatsBootstrap, RatioIntervalContainsTheRatioOfMedians) {
  const std::vector<double> baseline{1.00, 1.05, 0.97, 1.02, 0.99};
  const std::vector<double> point{0.51, 0.49, 0.50, 0.56, 0.48};
  const Interval ci = bootstrap_ratio_ci(baseline, point, 11);
  EXPECT_TRUE(ci.contains(1.0 / 0.50)) << ci.low << " " << ci.high;
  // Every replicate is some baseline value over some point value.
  EXPECT_GE(ci.low, 0.97 / 0.56);
  EXPECT_LE(ci.high, 1.05 / 0.48);
}

// --- summarize ------------------------------------------------------------------------------

TEST(StatsSummarize, SerialIsTheBaseline) {
  std::vector<Trial> trials;
  add_point(trials, "cpu", "serial", 1, {1.2, 1.0, 0.8});
  add_point(trials, "cpu", "threads", 2, {0.5, 0.6, 0.4});
  add_point(trials, "cpu", "threads", 4, {0.4, 0.4, 0.4});
  add_point(trials, "cpu", "processes", 4, {0.8, 0.9, 0.7});
  const auto rows = summarize(trials, {"cpu"}, {"serial", "threads", "processes"});
  ASSERT_EQ(rows.size(), 4u);

  const auto& serial = find_row(rows, "cpu", "serial", 1);
  EXPECT_DOUBLE_EQ(serial.wall.median, 1.0);
  expect_scaling(serial, 1.0, 1.0, "serial");

  const auto& t2 = find_row(rows, "cpu", "threads", 2);
  EXPECT_EQ(t2.trials, 3u);
  EXPECT_DOUBLE_EQ(t2.wall.median, 0.5);
  expect_scaling(t2, 2.0, 1.0, "serial");

  expect_scaling(find_row(rows, "cpu", "threads", 4), 1.0 / 0.4, 1.0 / 0.4 / 4, "serial");
  expect_scaling(find_row(rows, "cpu", "processes", 4), 1.0 / 0.8, 1.0 / 0.8 / 4, "serial");
}

TEST(StatsSummarize, EachWorkloadHasItsOwnSerialBaseline) {
  std::vector<Trial> trials;
  add_point(trials, "cpu", "serial", 1, {1.0});
  add_point(trials, "cpu", "threads", 2, {0.5});
  add_point(trials, "io", "serial", 1, {0.4});
  add_point(trials, "io", "threads", 2, {0.1});
  const auto rows = summarize(trials, {"cpu", "io"}, {"serial", "threads"});
  ASSERT_EQ(rows.size(), 4u);
  expect_scaling(find_row(rows, "cpu", "threads", 2), 2.0, 1.0, "serial");
  expect_scaling(find_row(rows, "io", "threads", 2), 4.0, 2.0, "serial");
}

TEST(StatsSummarize, WithoutSerialTheBaselineIsTheSameModelAtOneWorker) {
  std::vector<Trial> trials;
  add_point(trials, "io", "threads", 1, {2.0, 2.0});
  add_point(trials, "io", "threads", 2, {1.0, 1.0});
  add_point(trials, "io", "threads", 8, {0.5, 0.5});
  add_point(trials, "io", "async", 1, {4.0});
  add_point(trials, "io", "async", 4, {1.0});
  const auto rows = summarize(trials, {"io"}, {"threads", "async"});
  ASSERT_EQ(rows.size(), 5u);

  expect_scaling(find_row(rows, "io", "threads", 1), 1.0, 1.0, "threads@1");
  expect_scaling(find_row(rows, "io", "threads", 2), 2.0, 1.0, "threads@1");
  expect_scaling(find_row(rows, "io", "threads", 8), 4.0, 0.5, "threads@1");
  expect_scaling(find_row(rows, "io", "async", 4), 4.0, 1.0, "async@1");
}

TEST(StatsSummarize, WithoutSerialOrOneWorkerThereIsNoSpeedup) {
  std::vector<Trial> trials;
  add_point(trials, "cpu", "threads", 2, {1.0});
  add_point(trials, "cpu", "threads", 4, {0.6});
  add_point(trials, "cpu", "async", 1, {3.0});  // another model's W=1 is no baseline for threads
  const auto rows = summarize(trials, {"cpu"}, {"threads", "async"});
  ASSERT_EQ(rows.size(), 3u);
  for (int workers : {2, 4}) {
    const auto& row = find_row(rows, "cpu", "threads", workers);
    EXPECT_FALSE(row.speedup.has_value()) << workers;
    EXPECT_FALSE(row.efficiency.has_value()) << workers;
    EXPECT_EQ(row.baseline, "") << workers;
  }
  EXPECT_TRUE(find_row(rows, "cpu", "async", 1).speedup.has_value());
}

TEST(StatsSummarize, FailedTrialsAreExcludedAndCounted) {
  std::vector<Trial> trials;
  add_point(trials, "cpu", "serial", 1, {1.0, 1.0});
  add_point(trials, "cpu", "threads", 2, {0.5, 0.5});
  trials.push_back(make_trial("cpu", "threads", 2, 2, 100.0, "task 3 threw: boom"));
  const auto rows = summarize(trials, {"cpu"}, {"serial", "threads"});
  const auto& row = find_row(rows, "cpu", "threads", 2);
  EXPECT_EQ(row.trials, 2u);
  EXPECT_EQ(row.failed, 1u);
  EXPECT_EQ(row.wall.n, 2u);
  EXPECT_DOUBLE_EQ(row.wall.median, 0.5);
  EXPECT_DOUBLE_EQ(row.wall.max, 0.5);
  expect_scaling(row, 2.0, 1.0, "serial");
  EXPECT_EQ(find_row(rows, "cpu", "serial", 1).failed, 0u);
}

// A point's tail latencies pool every task of the trials in its figures: a failed trial's tasks
// are not among them.
TEST(StatsSummarize, TailLatenciesPoolTheTasksOfTheTrialsInTheFigures) {
  std::vector<Trial> trials;
  for (int r = 0; r < 2; ++r) {
    Trial t = make_trial("io", "threads", 2, r, 0.5);
    for (int i = 1; i <= 100; ++i)
      t.task_duration.add(0.001 * i + r * 0.1);  // 1..100 ms, then +100
    t.start_delay.add(0.002 * (r + 1));
    trials.push_back(t);
  }
  Trial failed = make_trial("io", "threads", 2, 2, 100.0, "task 3 threw: boom");
  failed.task_duration.add(50.0);
  trials.push_back(failed);
  const auto rows = summarize(trials, {"io"}, {"threads"});
  const auto& row = find_row(rows, "io", "threads", 2);
  EXPECT_EQ(row.task_duration.count(), 200u);
  EXPECT_DOUBLE_EQ(row.task_duration.min_s(), 0.001);
  EXPECT_DOUBLE_EQ(row.task_duration.max_s(), 0.2);  // not the failed trial's 50 s
  EXPECT_NEAR(row.task_duration.quantile_s(0.5), 0.1, 0.1 / 32 + 1e-9);
  EXPECT_EQ(row.start_delay.count(), 2u);
  EXPECT_DOUBLE_EQ(row.start_delay.max_s(), 0.004);
  const auto json = to_json(row);
  EXPECT_EQ(json.at("task_duration").at("count"), 200);
  EXPECT_EQ(json.at("start_delay").at("count"), 2);
}

TEST(StatsSummarize, APointWhereEveryTrialFailedHasNoFigures) {
  std::vector<Trial> trials;
  add_point(trials, "cpu", "serial", 1, {1.0});
  trials.push_back(make_trial("cpu", "threads", 4, 0, 0.2, "checksum mismatch at task 0"));
  trials.push_back(make_trial("cpu", "threads", 4, 1, 0.3, "checksum mismatch at task 0"));
  const auto rows = summarize(trials, {"cpu"}, {"serial", "threads"});
  ASSERT_EQ(rows.size(), 2u);
  const auto& row = find_row(rows, "cpu", "threads", 4);
  EXPECT_EQ(row.trials, 0u);
  EXPECT_EQ(row.failed, 2u);
  EXPECT_EQ(row.wall.n, 0u);
  EXPECT_FALSE(row.speedup.has_value());
  EXPECT_FALSE(row.efficiency.has_value());

  const auto json = scalelab::to_json(row);
  EXPECT_TRUE(json.at("median_s").is_null());
  EXPECT_TRUE(json.at("speedup").is_null());
  EXPECT_TRUE(json.at("efficiency").is_null());
  EXPECT_EQ(json.at("trials"), 0);
  EXPECT_EQ(json.at("failed"), 2);
}

TEST(StatsSummarize, FailedSerialFallsBackToTheModelAtOneWorker) {
  std::vector<Trial> trials;
  trials.push_back(make_trial("cpu", "serial", 1, 0, 1.0, "boom"));
  add_point(trials, "cpu", "threads", 1, {2.0});
  add_point(trials, "cpu", "threads", 2, {1.0});
  const auto rows = summarize(trials, {"cpu"}, {"serial", "threads"});
  expect_scaling(find_row(rows, "cpu", "threads", 2), 2.0, 1.0, "threads@1");
  EXPECT_FALSE(find_row(rows, "cpu", "serial", 1).speedup.has_value());
}

TEST(StatsSummarize, WarmUpsAreIgnored) {
  std::vector<Trial> trials;
  trials.push_back(make_trial("cpu", "serial", 1, -1, 50.0));
  add_point(trials, "cpu", "serial", 1, {1.0, 1.0, 1.0});
  trials.push_back(make_trial("cpu", "threads", 2, -1, 0.001));
  trials.push_back(make_trial("cpu", "threads", 2, -1, 9.0, "failed warm-up"));
  add_point(trials, "cpu", "threads", 2, {0.5});
  // A group that only has a warm-up has no row at all.
  trials.push_back(make_trial("cpu", "async", 1, -1, 1.0));
  const auto rows = summarize(trials, {"cpu"}, {"serial", "threads", "async"});
  ASSERT_EQ(rows.size(), 2u);
  const auto& serial = find_row(rows, "cpu", "serial", 1);
  EXPECT_EQ(serial.trials, 3u);
  EXPECT_DOUBLE_EQ(serial.wall.max, 1.0);
  const auto& threads = find_row(rows, "cpu", "threads", 2);
  EXPECT_EQ(threads.trials, 1u);
  EXPECT_EQ(threads.failed, 0u);
  EXPECT_DOUBLE_EQ(threads.wall.min, 0.5);
}

TEST(StatsSummarize, RowsFollowTheGivenWorkloadAndModelOrderThenWorkers) {
  std::vector<Trial> trials;
  // Deliberately out of order, and with workers that sort differently as text (16 < 2).
  add_point(trials, "cpu", "threads", 16, {0.1});
  add_point(trials, "io", "serial", 1, {1.0});
  add_point(trials, "cpu", "serial", 1, {1.0});
  add_point(trials, "io", "threads", 2, {0.5});
  add_point(trials, "cpu", "threads", 2, {0.5});
  add_point(trials, "io", "threads", 16, {0.1});
  add_point(trials, "cpu", "async", 4, {0.3});
  add_point(trials, "cpu", "async", 1, {1.0});
  const auto rows = summarize(trials, {"io", "cpu"}, {"threads", "async", "serial"});
  std::vector<std::string> got;
  for (const auto& r : rows)
    got.push_back(r.workload + " " + r.model + " " + std::to_string(r.workers));
  EXPECT_EQ(got, (std::vector<std::string>{"io threads 2", "io threads 16", "io serial 1",
                                           "cpu threads 2", "cpu threads 16", "cpu async 1",
                                           "cpu async 4", "cpu serial 1"}));
}

TEST(StatsSummarize, NamesMissingFromTheOrderListsStillComeGroupedByWorkloadThenModel) {
  // The header promises rows "ordered by workload, model, then workers"; a name the order
  // lists do not mention must not make rows of different models interleave by worker count.
  std::vector<Trial> trials;
  add_point(trials, "cpu", "threads", 1, {1.0});
  add_point(trials, "cpu", "async", 1, {1.0});
  add_point(trials, "cpu", "threads", 2, {0.5});
  add_point(trials, "cpu", "async", 2, {0.5});
  const auto rows = summarize(trials, {"cpu"}, {});
  ASSERT_EQ(rows.size(), 4u);
  for (std::size_t i = 0; i + 1 < rows.size(); ++i) {
    if (rows[i].model == rows[i + 1].model) {
      EXPECT_LT(rows[i].workers, rows[i + 1].workers);
    }
  }
  // Each model's rows are contiguous.
  EXPECT_EQ(rows[0].model, rows[1].model);
  EXPECT_EQ(rows[2].model, rows[3].model);
}

TEST(StatsSummarize, CpuUtilAndStartupAreMedians) {
  std::vector<Trial> trials;
  for (const auto& [user, startup] :
       std::vector<std::pair<double, double>>{{1.0, 0.01}, {3.0, 0.03}, {2.0, 0.02}}) {
    Trial t = make_trial("cpu", "threads", 4, static_cast<int>(trials.size()), 1.0);
    t.user_s = user * 0.75;
    t.sys_s = user * 0.25;
    t.startup_s = startup;
    trials.push_back(t);
  }
  const auto rows = summarize(trials, {"cpu"}, {"threads"});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_DOUBLE_EQ(rows[0].cpu_util, 2.0);
  EXPECT_DOUBLE_EQ(rows[0].startup_s, 0.02);
}

TEST(StatsSummarize, NoTrialsNoRows) {
  EXPECT_TRUE(summarize({}, {"cpu"}, {"serial"}).empty());
}

// --- to_json(SummaryRow) --------------------------------------------------------------------

TEST(StatsToJson, HasTheDocumentedKeysAndValues) {
  std::vector<Trial> trials;
  add_point(trials, "cpu", "serial", 1, {1.0});
  add_point(trials, "cpu", "threads", 2, {0.5, 0.7, 0.6});
  const auto rows = summarize(trials, {"cpu"}, {"serial", "threads"});
  const auto json = scalelab::to_json(find_row(rows, "cpu", "threads", 2));
  ASSERT_TRUE(json.is_object());
  for (const char* key : {"workload", "model", "workers", "median_s", "speedup", "efficiency",
                          "cpu_util", "trials", "failed", "baseline"}) {
    EXPECT_TRUE(json.contains(key)) << key;
  }
  EXPECT_EQ(json.at("workload"), "cpu");
  EXPECT_EQ(json.at("model"), "threads");
  EXPECT_EQ(json.at("workers"), 2);
  EXPECT_EQ(json.at("trials"), 3);
  EXPECT_EQ(json.at("failed"), 0);
  EXPECT_DOUBLE_EQ(json.at("median_s").get<double>(), 0.6);
  EXPECT_DOUBLE_EQ(json.at("speedup").get<double>(), 1.0 / 0.6);
  EXPECT_DOUBLE_EQ(json.at("efficiency").get<double>(), 1.0 / 0.6 / 2);
  EXPECT_DOUBLE_EQ(json.at("cpu_util").get<double>(), 1.0);
  EXPECT_EQ(json.at("baseline"), "serial");
}

TEST(StatsToJson, MissingSpeedupIsNull) {
  std::vector<Trial> trials;
  add_point(trials, "cpu", "threads", 2, {0.5});
  const auto rows = summarize(trials, {"cpu"}, {"threads"});
  ASSERT_EQ(rows.size(), 1u);
  const auto json = scalelab::to_json(rows[0]);
  EXPECT_TRUE(json.at("speedup").is_null());
  EXPECT_TRUE(json.at("efficiency").is_null());
  EXPECT_TRUE(json.at("baseline").is_null());
  EXPECT_DOUBLE_EQ(json.at("median_s").get<double>(), 0.5);
}

TEST(StatsToJson, HasTheFiguresAddedWithTheIntervals) {
  std::vector<Trial> trials;
  add_point(trials, "cpu", "serial", 1, {1.0, 1.1, 0.9});
  add_point(trials, "cpu", "threads", 2, {0.5, 0.7, 0.6});
  trials.back().counters["gil_switches"] = 3;
  const auto rows = summarize(trials, {"cpu"}, {"serial", "threads"}, {.cores = 2});
  const auto& row = find_row(rows, "cpu", "threads", 2);
  const auto json = scalelab::to_json(row);
  EXPECT_TRUE(scalelab::testing::has_keys(
      json, {"p90_s", "ci_low_s", "ci_high_s", "speedup_ci", "efficiency_ci", "ideal", "counters",
             "noisy", "noise_reason", "tasks"}));
  EXPECT_DOUBLE_EQ(json.at("p90_s").get<double>(), row.wall.p90);
  EXPECT_DOUBLE_EQ(json.at("ci_low_s").get<double>(), row.wall_ci.low);
  EXPECT_DOUBLE_EQ(json.at("ci_high_s").get<double>(), row.wall_ci.high);
  ASSERT_TRUE(json.at("speedup_ci").is_array());
  EXPECT_DOUBLE_EQ(json.at("speedup_ci")[0].get<double>(), row.speedup_ci->low);
  EXPECT_DOUBLE_EQ(json.at("speedup_ci")[1].get<double>(), row.speedup_ci->high);
  EXPECT_DOUBLE_EQ(json.at("efficiency_ci")[1].get<double>(), row.efficiency_ci->high);
  EXPECT_DOUBLE_EQ(json.at("ideal").get<double>(), 2);
  EXPECT_EQ(json.at("counters"), (nlohmann::json{{"gil_switches", 3.0}}));
  EXPECT_EQ(json.at("tasks"), 8);
  EXPECT_EQ(json.at("noisy"), row.noisy);
  EXPECT_EQ(json.at("noise_reason").is_null(), !row.noisy);
}

TEST(StatsToJson, NoisyRowCarriesItsReasonAndNoBaselineGivesNullIntervals) {
  std::vector<Trial> trials;
  add_point(trials, "cpu", "threads", 2, {0.9, 1.0, 1.1});
  const auto rows = summarize(trials, {"cpu"}, {"threads"});
  const auto json = scalelab::to_json(rows.at(0));
  EXPECT_EQ(json.at("noisy"), true);
  EXPECT_EQ(json.at("noise_reason"), "CV 10.0 % > 5 %");
  EXPECT_TRUE(json.at("speedup_ci").is_null());
  EXPECT_TRUE(json.at("efficiency_ci").is_null());
  EXPECT_TRUE(json.at("counters").is_object());
  EXPECT_TRUE(json.at("counters").empty());
}

// --- summarize: intervals, ideal, noise, counters --------------------------------------------

TEST(StatsSummarize, WallSamplesAreInRunOrderAndTheCiHoldsTheMedian) {
  std::vector<Trial> trials;
  add_point(trials, "cpu", "threads", 2, {0.52, 0.48, 0.50, 0.51, 0.49});
  trials.push_back(make_trial("cpu", "threads", 2, 5, 9.0, "boom"));  // not a sample
  const auto rows = summarize(trials, {"cpu"}, {"threads"});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].wall_samples, (std::vector<double>{0.52, 0.48, 0.50, 0.51, 0.49}));
  EXPECT_EQ(rows[0].tasks, 8u);
  EXPECT_NEAR(rows[0].wall.p90, 0.516, 1e-12);
  EXPECT_TRUE(rows[0].wall_ci.contains(rows[0].wall.median));
  EXPECT_GE(rows[0].wall_ci.low, 0.48);
  EXPECT_LE(rows[0].wall_ci.high, 0.52);
}

TEST(StatsSummarize, SpeedupAndEfficiencyIntervals) {
  std::vector<Trial> trials;
  add_point(trials, "cpu", "serial", 1, {1.00, 1.02, 0.98, 1.01, 0.99});
  add_point(trials, "cpu", "threads", 4, {0.26, 0.25, 0.24, 0.25, 0.27});
  const auto rows = summarize(trials, {"cpu"}, {"serial", "threads"});
  const auto& serial = find_row(rows, "cpu", "serial", 1);
  // The baseline against itself is exactly 1.
  ASSERT_TRUE(serial.speedup_ci.has_value());
  EXPECT_EQ(serial.speedup_ci->low, 1);
  EXPECT_EQ(serial.speedup_ci->high, 1);

  const auto& row = find_row(rows, "cpu", "threads", 4);
  ASSERT_TRUE(row.speedup_ci.has_value());
  ASSERT_TRUE(row.efficiency_ci.has_value());
  EXPECT_TRUE(row.speedup_ci->contains(*row.speedup));
  EXPECT_GE(row.speedup_ci->low, 0.98 / 0.27);
  EXPECT_LE(row.speedup_ci->high, 1.02 / 0.24);
  EXPECT_DOUBLE_EQ(row.efficiency_ci->low, row.speedup_ci->low / 4);
  EXPECT_DOUBLE_EQ(row.efficiency_ci->high, row.speedup_ci->high / 4);
}

TEST(StatsSummarize, IntervalsAreDeterministicAndDependOnlyOnThePoint) {
  std::vector<Trial> trials;
  add_point(trials, "cpu", "serial", 1, {1.00, 1.07, 0.93, 1.01, 0.99, 1.04});
  add_point(trials, "cpu", "threads", 2, {0.52, 0.47, 0.50, 0.55, 0.49, 0.51});
  const AnalysisOptions options{.seed = 99};
  const auto first = summarize(trials, {"cpu"}, {"serial", "threads"}, options);
  const auto second = summarize(trials, {"cpu"}, {"serial", "threads"}, options);
  // Another point, run first, must not shift this point's random stream.
  std::vector<Trial> more;
  add_point(more, "io", "async", 8, {0.1, 0.2, 0.3});
  more.insert(more.end(), trials.begin(), trials.end());
  const auto third = summarize(more, {"io", "cpu"}, {"serial", "threads", "async"}, options);
  for (const auto* rows : {&second, &third}) {
    const auto& a = find_row(first, "cpu", "threads", 2);
    const auto& b = find_row(*rows, "cpu", "threads", 2);
    EXPECT_EQ(a.wall_ci.low, b.wall_ci.low);
    EXPECT_EQ(a.wall_ci.high, b.wall_ci.high);
    EXPECT_EQ(a.speedup_ci->low, b.speedup_ci->low);
    EXPECT_EQ(a.speedup_ci->high, b.speedup_ci->high);
  }
}

TEST(StatsSummarize, IdealForCpuBoundWorkIsCappedByCores) {
  std::vector<Trial> trials;
  add_point_util(trials, "cpu", "serial", 1, {1.0}, 1.0);
  for (int w : {1, 2, 4}) add_point_util(trials, "cpu", "threads", w, {1.0 / w}, 1.0);
  const auto rows = summarize(trials, {"cpu"}, {"serial", "threads"}, {.cores = 2});
  EXPECT_EQ(find_row(rows, "cpu", "serial", 1).ideal, 1);
  EXPECT_EQ(find_row(rows, "cpu", "threads", 1).ideal, 1);
  EXPECT_EQ(find_row(rows, "cpu", "threads", 2).ideal, 2);
  EXPECT_EQ(find_row(rows, "cpu", "threads", 4).ideal, 2);
}

TEST(StatsSummarize, IdealForWaitBoundWorkIsCappedByTasks) {
  std::vector<Trial> trials;  // 8 tasks per trial (make_trial)
  add_point_util(trials, "io", "serial", 1, {1.0}, 0.01);
  for (int w : {4, 8, 16}) add_point_util(trials, "io", "async", w, {1.0 / w}, 0.01);
  const auto rows = summarize(trials, {"io"}, {"serial", "async"}, {.cores = 2});
  EXPECT_EQ(find_row(rows, "io", "serial", 1).ideal, 1);
  EXPECT_EQ(find_row(rows, "io", "async", 4).ideal, 4);
  EXPECT_EQ(find_row(rows, "io", "async", 8).ideal, 8);
  EXPECT_EQ(find_row(rows, "io", "async", 16).ideal, 8);
}

TEST(StatsSummarize, IdealForMixedWorkIsCappedByCoresOverUtilisation) {
  // Serial keeps 0.4 cores busy: 2 cores saturate at 2 / 0.4 = 5 overlapping runs.
  std::vector<Trial> trials;
  add_point_util(trials, "mixed", "serial", 1, {1.0}, 0.4);
  for (int w : {2, 4, 8, 16}) add_point_util(trials, "mixed", "threads", w, {1.0 / w}, 0.4);
  const auto rows = summarize(trials, {"mixed"}, {"serial", "threads"}, {.cores = 2});
  EXPECT_DOUBLE_EQ(find_row(rows, "mixed", "threads", 2).ideal, 2);   // min(2, min(2, 2) / 0.4)
  EXPECT_DOUBLE_EQ(find_row(rows, "mixed", "threads", 4).ideal, 4);   // min(4, 5)
  EXPECT_DOUBLE_EQ(find_row(rows, "mixed", "threads", 8).ideal, 5);   // min(8, 5)
  EXPECT_DOUBLE_EQ(find_row(rows, "mixed", "threads", 16).ideal, 5);  // min(8 tasks, 5)
}

TEST(StatsSummarize, NoisyByCv) {
  std::vector<Trial> trials;
  add_point(trials, "cpu", "threads", 1, {0.9, 1.0, 1.1});  // sd 0.1, mean 1: CV 10 %
  add_point(trials, "cpu", "threads", 2, {0.5, 0.5, 0.5});
  add_point(trials, "cpu", "threads", 4, {2.0});  // one trial: no CV to speak of
  const auto rows = summarize(trials, {"cpu"}, {"threads"});
  const auto& noisy = find_row(rows, "cpu", "threads", 1);
  EXPECT_TRUE(noisy.noisy);
  EXPECT_EQ(noisy.noise_reason, "CV 10.0 % > 5 %");
  for (int w : {2, 4}) {
    EXPECT_FALSE(find_row(rows, "cpu", "threads", w).noisy) << w;
    EXPECT_EQ(find_row(rows, "cpu", "threads", w).noise_reason, "") << w;
  }
  // The threshold is an option; the reason quotes it.
  const auto strict = summarize(trials, {"cpu"}, {"threads"}, {.noisy_cv = 0.075});
  EXPECT_EQ(find_row(strict, "cpu", "threads", 1).noise_reason, "CV 10.0 % > 7.5 %");
  const auto lax = summarize(trials, {"cpu"}, {"threads"}, {.noisy_cv = 0.2});
  EXPECT_FALSE(find_row(lax, "cpu", "threads", 1).noisy);
}

TEST(StatsSummarize, NoisyByOverlappingNeighbourDespiteDifferentMedians) {
  // Medians 1.00 and 1.08 differ by 8 %, yet each CI ({1.0, 1.1} and {0.99, 1.08} are the only
  // resampled medians possible) overlaps the other: the noise hides the difference.
  // CVs are about 5 %, under the 10 % threshold chosen here, so only the overlap can flag.
  std::vector<Trial> trials;
  add_point(trials, "cpu", "threads", 2, {1.00, 1.00, 1.10});
  add_point(trials, "cpu", "threads", 4, {1.08, 1.08, 0.99});
  add_point(trials, "cpu", "threads", 8, {0.50, 0.50, 0.50});  // far away: not overlapping
  add_point(trials, "cpu", "async", 1, {1.00, 1.00, 1.01});    // another curve: no neighbour
  const auto rows = summarize(trials, {"cpu"}, {"threads", "async"}, {.noisy_cv = 0.1});
  const auto& two = find_row(rows, "cpu", "threads", 2);
  const auto& four = find_row(rows, "cpu", "threads", 4);
  EXPECT_TRUE(two.wall_ci.overlaps(four.wall_ci));
  EXPECT_TRUE(two.noisy);
  EXPECT_EQ(two.noise_reason, "CI overlaps 4 workers' although medians differ by 8 %");
  EXPECT_TRUE(four.noisy);
  EXPECT_EQ(four.noise_reason, "CI overlaps 2 workers' although medians differ by 8 %");
  EXPECT_FALSE(find_row(rows, "cpu", "threads", 8).noisy);
  EXPECT_FALSE(find_row(rows, "cpu", "async", 1).noisy);
}

TEST(StatsSummarize, OverlapWithCloseMediansIsNotNoise) {
  // Overlapping CIs of medians within 5 % of each other say the same thing: nothing hidden.
  std::vector<Trial> trials;
  add_point(trials, "io", "threads", 1, {1.00, 1.00, 1.03});
  add_point(trials, "io", "threads", 2, {1.02, 1.02, 0.99});
  const auto rows = summarize(trials, {"io"}, {"threads"});
  for (const auto& row : rows) EXPECT_FALSE(row.noisy) << row.workers << ": " << row.noise_reason;
}

TEST(StatsSummarize, CountersAreMediansOfTheSuccessfulTrials) {
  std::vector<Trial> trials;
  add_point(trials, "cpu", "gil", 2, {1.0, 1.0, 1.0});
  trials[0].counters = {{"gil_switches", 10}, {"gil_wait_s", 0.5}};
  trials[1].counters = {{"gil_switches", 30}, {"gil_wait_s", 0.1}};
  trials[2].counters = {{"gil_switches", 20}};  // a counter missing from one trial
  Trial failed = make_trial("cpu", "gil", 2, 3, 1.0, "boom");
  failed.counters = {{"gil_switches", 1000}, {"other", 1}};
  trials.push_back(failed);
  const auto rows = summarize(trials, {"cpu"}, {"gil"});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].counters,
            (std::map<std::string, double>{{"gil_switches", 20}, {"gil_wait_s", 0.3}}));
}

// --- impossible figures -------------------------------------------------------------------

// Like add_point_util, every trial flagged disturbed.
void add_disturbed_point(std::vector<Trial>& trials, const std::string& workload,
                         const std::string& model, int workers, const std::vector<double>& walls,
                         double cpu_util) {
  const std::size_t first = trials.size();
  add_point_util(trials, workload, model, workers, walls, cpu_util);
  for (std::size_t i = first; i < trials.size(); ++i) trials[i].disturbed = true;
}

const scalelab::ImpossibleFigure* figure_of(const SummaryRow& row, const std::string& figure) {
  for (const auto& f : row.impossible) {
    if (f.figure == figure) return &f;
  }
  return nullptr;
}

TEST(StatsImpossible, SpeedupAboveTheCoresIsFlaggedWithTheCauseFromTheCpuTime) {
  // Serial 1.0 s with a tiny spread; 2 workers 0.4 s on 2 cores, CPU-bound: 2.5× where 2× is
  // the most two cores can give, and the whole CI is above 2×. The point used 0.8 CPU-s for
  // what took serial 1 CPU-s: the baseline ran slower than these workers.
  std::vector<Trial> trials;
  add_point_util(trials, "cpu", "serial", 1, {1.0, 1.001, 0.999}, 1.0);
  add_point_util(trials, "cpu", "threads", 2, {0.4, 0.401, 0.399}, 2.0);
  const auto rows = summarize(trials, {"cpu"}, {"serial", "threads"}, {.cores = 2});
  const auto& row = find_row(rows, "cpu", "threads", 2);
  ASSERT_TRUE(row.speedup_ci.has_value());
  ASSERT_GT(row.speedup_ci->low, 2.0);
  ASSERT_TRUE(row.is_impossible());
  const auto* speedup = figure_of(row, "speedup");
  ASSERT_NE(speedup, nullptr);
  EXPECT_EQ(speedup->reason,
            fmt::format("speedup 2.50× above the ideal 2× (95 % CI {:.2f}×–{:.2f}×)",
                        row.speedup_ci->low, row.speedup_ci->high));
  EXPECT_EQ(speedup->cause,
            "the baseline ran slower than this point's workers could (serial used 1s of CPU for "
            "the tasks, this point 800ms)");
  const auto* efficiency = figure_of(row, "efficiency");
  ASSERT_NE(efficiency, nullptr);
  EXPECT_EQ(efficiency->reason,
            fmt::format("efficiency 125 % above 100 % (95 % CI {:.0f}–{:.0f} %)",
                        row.efficiency_ci->low * 100, row.efficiency_ci->high * 100));
  EXPECT_EQ(figure_of(row, "cpu_util"), nullptr);  // 2.00 cores on 2 is possible
  // One line, the two figures that share a cause named together.
  EXPECT_EQ(scalelab::impossible_text(row),
            speedup->reason + " and " + efficiency->reason + "; likely cause: " + speedup->cause);
  EXPECT_FALSE(find_row(rows, "cpu", "serial", 1).is_impossible());
}

TEST(StatsImpossible, NoisyBaselineIsTheLikelyCause) {
  std::vector<Trial> trials;
  const std::vector<double> serial{0.7, 1.0, 1.4};  // CV 33 %
  add_point_util(trials, "python", "serial", 1, serial, 1.0);
  add_point_util(trials, "python", "processes", 2, {0.30, 0.30, 0.31}, 2.0);
  const auto rows = summarize(trials, {"python"}, {"serial", "processes"}, {.cores = 2});
  const auto& row = find_row(rows, "python", "processes", 2);
  const auto* speedup = figure_of(row, "speedup");
  ASSERT_NE(speedup, nullptr) << row.speedup_ci->low;
  EXPECT_EQ(speedup->cause,
            fmt::format("baseline noise (serial's CV is {:.1f} %)", describe(serial).cv * 100));
  EXPECT_NE(scalelab::impossible_text(row).find("; likely cause: baseline noise (serial's CV is"),
            std::string::npos);
}

TEST(StatsImpossible, DisturbedBaselineIsTheLikelyCause) {
  std::vector<Trial> trials;
  add_disturbed_point(trials, "cpu", "serial", 1, {1.0, 1.0, 1.0}, 1.0);
  add_point_util(trials, "cpu", "threads", 2, {0.4, 0.4, 0.4}, 2.0);
  const auto rows = summarize(trials, {"cpu"}, {"serial", "threads"}, {.cores = 2});
  const auto* speedup = figure_of(find_row(rows, "cpu", "threads", 2), "speedup");
  ASSERT_NE(speedup, nullptr);
  EXPECT_EQ(speedup->cause, "disturbed trials (3 of serial's 3 trials were disturbed)");
}

TEST(StatsImpossible, BaselineSlowerThanTheModelAtOneWorkerIsNamed) {
  // 4 cores, so 2.3 cores of CPU use is possible; the point's CPU time (1.035 s) is above
  // serial's, so it is threads at 1 worker that shows the baseline was slow.
  std::vector<Trial> trials;
  add_point_util(trials, "cpu", "serial", 1, {1.0, 1.0, 1.0}, 1.0);
  add_point_util(trials, "cpu", "threads", 1, {0.9, 0.9, 0.9}, 1.0);
  add_point_util(trials, "cpu", "threads", 2, {0.45, 0.45, 0.45}, 2.3);
  const auto rows = summarize(trials, {"cpu"}, {"serial", "threads"}, {.cores = 4});
  const auto* two = figure_of(find_row(rows, "cpu", "threads", 2), "speedup");
  ASSERT_NE(two, nullptr);
  EXPECT_EQ(two->cause,
            "the baseline ran slower than this point's workers could (serial's median 1s against "
            "threads at 1 worker's 900ms)");
  // At 1 worker the ideal is 1×: 1.11× is impossible too.
  const auto* one = figure_of(find_row(rows, "cpu", "threads", 1), "speedup");
  ASSERT_NE(one, nullptr);
  EXPECT_EQ(one->reason, "speedup 1.11× above the ideal 1× (95 % CI 1.11×–1.11×)");
}

TEST(StatsImpossible, WaitBoundSpeedupAboveTheTasksIsFlagged) {
  std::vector<Trial> trials;  // 8 tasks per trial: ideal min(W, 8)
  add_point_util(trials, "io", "serial", 1, {1.0, 1.0, 1.0}, 0.01);
  add_point_util(trials, "io", "async", 4, {0.24, 0.24, 0.24}, 0.01);
  add_point_util(trials, "io", "async", 8, {0.13, 0.125, 0.126}, 0.01);
  const auto rows = summarize(trials, {"io"}, {"serial", "async"}, {.cores = 2});
  const auto* four = figure_of(find_row(rows, "io", "async", 4), "speedup");
  ASSERT_NE(four, nullptr);
  EXPECT_EQ(four->reason, "speedup 4.17× above the ideal 4× (95 % CI 4.17×–4.17×)");
  EXPECT_EQ(four->cause,
            "the baseline ran slower than this point's workers could (serial's median 1s is more "
            "than 4× this point's 240ms)");
  // 7.94× [7.69×, 8.00×] at 8 workers: the CI reaches the ideal, so it is possible.
  EXPECT_FALSE(find_row(rows, "io", "async", 8).is_impossible());
}

TEST(StatsImpossible, SpeedupsTheCiAllowsAreNotFlagged) {
  std::vector<Trial> trials;
  add_point_util(trials, "cpu", "serial", 1, {1.0, 1.0, 1.0}, 1.0);
  add_point_util(trials, "cpu", "threads", 1, {1.0, 1.0, 1.0}, 1.0);     // exactly the ideal
  add_point_util(trials, "cpu", "threads", 2, {0.5, 0.51, 0.49}, 1.98);  // CI from 1.96×
  add_point_util(trials, "cpu", "threads", 4, {0.51, 0.5, 0.52}, 2.0);   // 4 workers, 2 cores
  const auto rows = summarize(trials, {"cpu"}, {"serial", "threads"}, {.cores = 2});
  for (const auto& row : rows) {
    EXPECT_FALSE(row.is_impossible())
        << row.model << "@" << row.workers << ": " << scalelab::impossible_text(row);
    EXPECT_EQ(scalelab::impossible_text(row), "");
  }
}

TEST(StatsImpossible, CpuUseAboveTheCoresIsFlaggedBeyondTheTolerance) {
  // user + sys above cores × wall: 2.4 cores busy on 2. 2.03 is within the 2 % tolerance.
  std::vector<Trial> trials;
  add_point_util(trials, "noop", "threads", 1, {0.04, 0.04, 0.04}, 1.0);
  add_point_util(trials, "noop", "threads", 2, {0.04, 0.04, 0.04}, 2.4);
  add_point_util(trials, "noop", "threads", 4, {0.04, 0.04, 0.04}, 2.03);
  // The same CPU time with system time in it counts the same.
  for (auto& t : trials) {
    if (t.workers == 2) {
      t.sys_s = t.user_s / 4;
      t.user_s -= t.sys_s;
    }
  }
  const auto rows = summarize(trials, {"noop"}, {"threads"}, {.cores = 2});
  const auto& two = find_row(rows, "noop", "threads", 2);
  const auto* cpu = figure_of(two, "cpu_util");
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu->reason, "CPU use 2.40 cores above the 2 usable");
  EXPECT_EQ(cpu->cause,
            "a measurement window (2.40 cores busy on average over 40ms trials: CPU time counted "
            "over more than the interval it is divided by)");
  EXPECT_EQ(figure_of(two, "speedup"), nullptr);
  EXPECT_FALSE(find_row(rows, "noop", "threads", 4).is_impossible());
  // The tolerance is an option.
  const auto strict = summarize(trials, {"noop"}, {"threads"}, {.cores = 2, .cpu_tolerance = 0});
  EXPECT_NE(figure_of(find_row(strict, "noop", "threads", 4), "cpu_util"), nullptr);
}

TEST(StatsImpossible, CpuUseIsMeasuredOverTheCpuWindow) {
  // 0.1 s of CPU over a 0.05 s window on 1 core is impossible, whatever the wall time says.
  std::vector<Trial> trials;
  add_point_util(trials, "cpu", "threads", 1, {0.1}, 1.0);
  trials[0].cpu_window_s = 0.05;
  const auto rows = summarize(trials, {"cpu"}, {"threads"}, {.cores = 1});
  EXPECT_NE(figure_of(rows.at(0), "cpu_util"), nullptr);
}

TEST(StatsImpossible, JsonCarriesTheFlagAndEveryFigure) {
  std::vector<Trial> trials;
  add_point_util(trials, "cpu", "serial", 1, {1.0, 1.001, 0.999}, 1.0);
  add_point_util(trials, "cpu", "threads", 2, {0.4, 0.401, 0.399}, 2.5);
  const auto rows = summarize(trials, {"cpu"}, {"serial", "threads"}, {.cores = 2});
  const auto json = scalelab::to_json(find_row(rows, "cpu", "threads", 2));
  EXPECT_EQ(json.at("impossible"), true);
  const auto& figures = json.at("impossible_figures");
  ASSERT_EQ(figures.size(), 3u);
  EXPECT_EQ(figures[0].at("figure"), "speedup");
  EXPECT_EQ(figures[1].at("figure"), "efficiency");
  EXPECT_EQ(figures[2].at("figure"), "cpu_util");
  for (const auto& f : figures) {
    EXPECT_FALSE(f.at("reason").get<std::string>().empty());
    EXPECT_FALSE(f.at("cause").get<std::string>().empty());
  }
  EXPECT_EQ(figures[2].at("cause").get<std::string>().rfind("a measurement window (", 0), 0u);
  const auto serial = scalelab::to_json(find_row(rows, "cpu", "serial", 1));
  EXPECT_EQ(serial.at("impossible"), false);
  EXPECT_TRUE(serial.at("impossible_figures").empty());
}

// --- disturbed trials and reruns ------------------------------------------------------------

Trial attempt(const std::string& model, int workers, int repeat, int attempt_no, double wall,
              bool disturbed, const std::string& error = "") {
  Trial t = make_trial("cpu", model, workers, repeat, wall, error);
  t.attempt = attempt_no;
  t.disturbed = disturbed;
  return t;
}

TEST(StatsDisturbed, ARerunReplacesItsDisturbedAttemptAndNothingCountsTwice) {
  std::vector<Trial> clean, rerun;
  add_point(clean, "cpu", "serial", 1, {1.0, 1.02, 0.98});
  rerun = clean;
  for (int r = 0; r < 3; ++r) clean.push_back(attempt("threads", 2, r, 0, 0.5 + 0.01 * r, false));
  // The same planned trials, each first run disturbed (slow) and rerun.
  for (int r = 0; r < 3; ++r) {
    rerun.push_back(attempt("threads", 2, r, 0, 0.9, true));
    rerun.push_back(attempt("threads", 2, r, 1, 0.5 + 0.01 * r, false));
  }
  const AnalysisOptions options{.cores = 2, .seed = 7};
  const auto a =
      find_row(summarize(clean, {"cpu"}, {"serial", "threads"}, options), "cpu", "threads", 2);
  const auto b =
      find_row(summarize(rerun, {"cpu"}, {"serial", "threads"}, options), "cpu", "threads", 2);
  EXPECT_EQ(b.trials, 3u);
  EXPECT_EQ(b.records, 6u);
  EXPECT_EQ(b.disturbed, 3u);
  EXPECT_EQ(b.disturbed_used, 0u);
  EXPECT_EQ(b.failed, 0u);
  EXPECT_EQ(b.wall_samples, (std::vector<double>{0.5, 0.51, 0.52}));
  // Exactly the figures of the run that was never disturbed: the bootstrap is seeded by the
  // point, not by how many records it has.
  EXPECT_EQ(b.wall_ci.low, a.wall_ci.low);
  EXPECT_EQ(b.wall_ci.high, a.wall_ci.high);
  EXPECT_EQ(b.speedup_ci->low, a.speedup_ci->low);
  EXPECT_EQ(b.speedup_ci->high, a.speedup_ci->high);
  EXPECT_EQ(a.records, 3u);
  EXPECT_EQ(a.disturbed, 0u);
  const auto json = scalelab::to_json(b);
  EXPECT_EQ(json.at("records"), 6);
  EXPECT_EQ(json.at("disturbed"), 3);
  EXPECT_EQ(json.at("disturbed_used"), 0);
}

TEST(StatsDisturbed, TheLastUndisturbedAttemptOfARepeatIsUsed) {
  std::vector<Trial> trials{
      attempt("threads", 2, 0, 1, 0.6, false),  // a later attempt recorded first still wins
      attempt("threads", 2, 0, 0, 0.7, false),
      attempt("threads", 2, 0, 2, 0.9, true),
      attempt("threads", 2, 1, 0, 0.5, false),
  };
  const auto rows = summarize(trials, {"cpu"}, {"threads"});
  EXPECT_EQ(rows.at(0).wall_samples, (std::vector<double>{0.6, 0.5}));
  EXPECT_EQ(rows.at(0).disturbed, 1u);
  EXPECT_EQ(rows.at(0).disturbed_used, 0u);
}

TEST(StatsDisturbed, DisturbedTrialsAreLeftOutWhileThePointHasUndisturbedOnes) {
  // Repeat 0 was disturbed on both attempts; repeats 1 and 2 were not: 2 trials count.
  std::vector<Trial> trials{
      attempt("threads", 2, 0, 0, 0.9, true), attempt("threads", 2, 0, 1, 0.8, true),
      attempt("threads", 2, 1, 0, 0.5, false), attempt("threads", 2, 2, 0, 0.52, false)};
  const auto rows = summarize(trials, {"cpu"}, {"threads"});
  EXPECT_EQ(rows.at(0).trials, 2u);
  EXPECT_EQ(rows.at(0).wall_samples, (std::vector<double>{0.5, 0.52}));
  EXPECT_EQ(rows.at(0).disturbed, 2u);
  EXPECT_EQ(rows.at(0).disturbed_used, 0u);
}

TEST(StatsDisturbed, APointWithOnlyDisturbedTrialsUsesTheLastAttemptOfEachRepeat) {
  std::vector<Trial> trials;
  for (int r = 0; r < 3; ++r) {
    trials.push_back(attempt("threads", 2, r, 0, 0.9, true));
    trials.push_back(attempt("threads", 2, r, 1, 0.6, true));
  }
  const auto rows = summarize(trials, {"cpu"}, {"threads"});
  EXPECT_EQ(rows.at(0).trials, 3u);
  EXPECT_EQ(rows.at(0).wall_samples, (std::vector<double>{0.6, 0.6, 0.6}));
  EXPECT_EQ(rows.at(0).records, 6u);
  EXPECT_EQ(rows.at(0).disturbed, 6u);
  EXPECT_EQ(rows.at(0).disturbed_used, 3u);
}

TEST(StatsDisturbed, AFailedAttemptIsCountedAndItsRerunUsed) {
  std::vector<Trial> trials{attempt("threads", 2, 0, 0, 0.9, true, "task 3 threw: boom"),
                            attempt("threads", 2, 0, 1, 0.5, false),
                            attempt("threads", 2, 1, 0, 0.5, false)};
  const auto rows = summarize(trials, {"cpu"}, {"threads"});
  EXPECT_EQ(rows.at(0).trials, 2u);
  EXPECT_EQ(rows.at(0).failed, 1u);
  EXPECT_EQ(rows.at(0).records, 3u);
  EXPECT_EQ(rows.at(0).disturbed, 1u);
}

TEST(StatsDisturbed, TrialsInFiguresSkipsWarmUpsAndFailures) {
  const Trial warmup = attempt("threads", 2, -1, 0, 0.1, false);
  const Trial failed = attempt("threads", 2, 0, 0, 0.2, false, "boom");
  const Trial ok = attempt("threads", 2, 1, 0, 0.3, false);
  EXPECT_EQ(scalelab::trials_in_figures({&warmup, &failed, &ok}), (std::vector<const Trial*>{&ok}));
  EXPECT_TRUE(scalelab::trials_in_figures({}).empty());
}

TEST(StatsDisturbed, DisturbedPointTrialsAreACauseOfAnImpossibleSpeedup) {
  std::vector<Trial> trials;
  add_point_util(trials, "cpu", "serial", 1, {1.0, 1.0, 1.0}, 1.0);
  add_disturbed_point(trials, "cpu", "threads", 2, {0.4, 0.4, 0.4}, 2.0);
  const auto rows = summarize(trials, {"cpu"}, {"serial", "threads"}, {.cores = 2});
  const auto* speedup = figure_of(find_row(rows, "cpu", "threads", 2), "speedup");
  ASSERT_NE(speedup, nullptr);
  EXPECT_EQ(speedup->cause, "disturbed trials (3 of this point's 3 trials were disturbed)");
}

// --- profile_workloads ----------------------------------------------------------------------

TEST(StatsProfile, ClassifiesBySerialCpuUtilisation) {
  std::vector<Trial> trials;
  add_point_util(trials, "cpu", "serial", 1, {1.0}, 0.97);
  add_point_util(trials, "cpu", "threads", 2, {0.5}, 1.9);
  add_point_util(trials, "io", "serial", 1, {1.0}, 0.02);
  add_point_util(trials, "mixed", "serial", 1, {1.0}, 0.5);
  add_point_util(trials, "edge", "serial", 1, {1.0}, 0.8);  // at the threshold: CPU-bound
  const auto rows = summarize(trials, {"cpu", "io", "mixed", "edge"}, {"serial", "threads"});
  const auto profiles = scalelab::profile_workloads(rows);
  ASSERT_EQ(profiles.size(), 4u);
  EXPECT_EQ(profiles[0].workload, "cpu");
  EXPECT_EQ(profiles[0].bound, Boundness::cpu_bound);
  EXPECT_DOUBLE_EQ(profiles[0].serial_cpu_util, 0.97);
  EXPECT_EQ(profiles[0].tasks, 8u);
  EXPECT_EQ(profiles[0].baseline_model, "serial");
  EXPECT_EQ(profiles[0].baseline_workers, 1);
  EXPECT_EQ(profiles[1].bound, Boundness::wait_bound);
  EXPECT_EQ(profiles[2].bound, Boundness::mixed);
  EXPECT_DOUBLE_EQ(profiles[2].serial_cpu_util, 0.5);
  EXPECT_EQ(profiles[3].bound, Boundness::cpu_bound);
  EXPECT_STREQ(scalelab::to_string(Boundness::cpu_bound), "CPU-bound");
  EXPECT_STREQ(scalelab::to_string(Boundness::wait_bound), "wait-bound");
  EXPECT_STREQ(scalelab::to_string(Boundness::mixed), "mixed");
}

TEST(StatsProfile, WithoutSerialUsesTheFirstModelAtOneWorkerElseTheFewestWorkers) {
  std::vector<Trial> trials;
  add_point_util(trials, "io", "threads", 2, {1.0}, 0.9);
  add_point_util(trials, "io", "threads", 1, {1.0}, 0.1);
  add_point_util(trials, "io", "async", 1, {1.0}, 0.5);
  add_point_util(trials, "cpu", "threads", 8, {1.0}, 0.1);
  add_point_util(trials, "cpu", "threads", 4, {1.0}, 0.9);
  const auto rows = summarize(trials, {"io", "cpu"}, {"threads", "async"});
  const auto profiles = scalelab::profile_workloads(rows);
  ASSERT_EQ(profiles.size(), 2u);
  EXPECT_DOUBLE_EQ(profiles[0].serial_cpu_util, 0.1);  // threads@1
  EXPECT_EQ(profiles[0].bound, Boundness::wait_bound);
  EXPECT_EQ(profiles[0].baseline_model, "threads");
  EXPECT_EQ(profiles[0].baseline_workers, 1);
  EXPECT_DOUBLE_EQ(profiles[1].serial_cpu_util, 0.9);  // threads@4, the fewest workers
  // 0.9 cores at 4 workers counts their own cost too: the task's bound is not measured.
  EXPECT_EQ(profiles[1].bound, Boundness::unmeasured);
  EXPECT_EQ(profiles[1].baseline_model, "threads");
  EXPECT_EQ(profiles[1].baseline_workers, 4);
}

TEST(StatsProfile, ThresholdsAreOptionsAndNoRowsNoProfiles) {
  std::vector<Trial> trials;
  add_point_util(trials, "cpu", "serial", 1, {1.0}, 0.7);
  const auto rows = summarize(trials, {"cpu"}, {"serial"});
  EXPECT_EQ(scalelab::profile_workloads(rows).at(0).bound, Boundness::mixed);
  EXPECT_EQ(scalelab::profile_workloads(rows, {.cpu_bound_util = 0.6}).at(0).bound,
            Boundness::cpu_bound);
  EXPECT_TRUE(scalelab::profile_workloads({}).empty());
}

// --- analyze --------------------------------------------------------------------------------

TEST(StatsAnalyze, OneFitPerNonSerialModelInRowOrder) {
  std::vector<Trial> trials;
  add_point(trials, "cpu", "serial", 1, {1.0, 1.0});
  for (int w : {1, 2, 4, 8}) {
    add_point(trials, "cpu", "threads", w, {1.0 / std::min(w, 2), 1.0 / std::min(w, 2)});
    add_point(trials, "cpu", "processes", w, {1.0 / w, 1.0 / w});
  }
  add_point(trials, "cpu", "async", 1, {1.0});
  add_point(trials, "cpu", "async", 2, {1.0});
  // A workload without a baseline has no speedups, hence no fit.
  add_point(trials, "io", "threads", 2, {1.0});
  add_point(trials, "io", "threads", 4, {0.5});
  const auto analysis = scalelab::analyze(
      trials, {"cpu", "io"}, {"serial", "threads", "processes", "async"}, {.cores = 2});
  EXPECT_EQ(analysis.cores, 2);
  EXPECT_EQ(analysis.rows.size(), 13u);
  ASSERT_EQ(analysis.workloads.size(), 2u);
  EXPECT_EQ(analysis.workloads[0].workload, "cpu");
  ASSERT_EQ(analysis.fits.size(), 3u);
  EXPECT_EQ(analysis.fits[0].model, "threads");
  EXPECT_EQ(analysis.fits[1].model, "processes");
  EXPECT_EQ(analysis.fits[2].model, "async");
  for (const auto& fit : analysis.fits) EXPECT_EQ(fit.workload, "cpu");
  EXPECT_TRUE(analysis.fits[0].fitted());
  EXPECT_EQ(analysis.fits[0].points, 4u);
  // Linear speedup on processes: no contention, no coherency cost.
  EXPECT_TRUE(analysis.fits[1].fitted());
  EXPECT_NEAR(analysis.fits[1].usl_sigma, 0, 1e-6);
  EXPECT_EQ(analysis.fits[1].usl_kappa, 0);
  EXPECT_EQ(analysis.fits[2].refused, "needs at least 4 distinct worker counts, has 2");

  const auto json = scalelab::to_json(analysis.fits[0]);
  EXPECT_EQ(json.at("workload"), "cpu");
  EXPECT_EQ(json.at("model"), "threads");
  EXPECT_TRUE(json.at("refused").is_null());
  EXPECT_TRUE(json.at("usl").is_object());
}

TEST(StatsAnalyze, NoTrialsGiveAnEmptyAnalysis) {
  const auto analysis = scalelab::analyze({}, {"cpu"}, {"serial"}, {});
  EXPECT_TRUE(analysis.rows.empty());
  EXPECT_TRUE(analysis.workloads.empty());
  EXPECT_TRUE(analysis.fits.empty());
}

}  // namespace
