// Descriptive statistics and the summary (speedup, efficiency, baseline choice), on hand-built
// trials whose figures are known exactly.

#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "scalelab/analysis.hpp"
#include "scalelab/trial.hpp"

namespace {

using scalelab::describe;
using scalelab::Stats;
using scalelab::summarize;
using scalelab::SummaryRow;
using scalelab::Trial;

// A counted trial (repeat >= 0) or a warm-up (repeat = -1) with the given wall time.
Trial make_trial(const std::string& workload, const std::string& model, int workers, int repeat,
                 double wall_s, const std::string& error = "") {
  Trial t;
  t.workload = workload;
  t.model = model;
  t.workers = workers;
  t.repeat = repeat;
  t.tasks = 8;
  t.tasks_done = error.empty() ? 8 : 0;
  t.wall_s = wall_s;
  t.user_s = wall_s;  // one busy core unless a test says otherwise
  t.checksum_ok = error.empty();
  t.error = error;
  return t;
}

// Adds one counted trial per wall time, repeats numbered from 0.
void add_point(std::vector<Trial>& trials, const std::string& workload, const std::string& model,
               int workers, const std::vector<double>& walls) {
  for (std::size_t r = 0; r < walls.size(); ++r) {
    trials.push_back(make_trial(workload, model, workers, static_cast<int>(r), walls[r]));
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
  expect_exactly(
      describe(values),
      {.n = 1, .min = 2.5, .max = 2.5, .mean = 2.5, .median = 2.5, .stddev = 0, .cv = 0});
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

}  // namespace
