// The granularity sweep: the smallest-efficient rule and the task-count clamp on hand-made
// values, option checks, and small real sweeps whose structure (points, order, counts,
// checksums) is checked, never their timings.

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <stop_token>
#include <string>
#include <tuple>
#include <vector>

#include "scalelab/error.hpp"
#include "scalelab/granularity.hpp"
#include "scalelab/session.hpp"
#include "support/helpers.hpp"

namespace {

using namespace std::chrono_literals;
using scalelab::granularity_tasks;
using scalelab::GranularityOptions;
using scalelab::GranularityPoint;
using scalelab::run_granularity;
using scalelab::smallest_efficient;
using scalelab::testing::throws_naming;

GranularityPoint point(double task_s, double efficiency, const std::string& error = "") {
  GranularityPoint p;
  p.task_s = task_s;
  p.efficiency = efficiency;
  p.error = error;
  return p;
}

// A sweep small enough for a test: three sizes, 20 ms batches, one repeat.
GranularityOptions small_sweep(const std::string& model, int workers) {
  GranularityOptions options;
  options.model = model;
  options.workers = workers;
  options.sizes = {2ms, 200us, 20us};
  options.min_batch = 20ms;
  options.repeat = 1;
  options.seed = 7;
  return options;
}

TEST(SmallestEfficient, IsTheEdgeOfTheEfficientRangeFromTheTop) {
  // 10 us passes again below a size that fell short: noise, not the edge.
  const std::vector<GranularityPoint> points{point(10e-3, 0.95), point(1e-3, 0.7),
                                             point(100e-6, 0.4), point(10e-6, 0.6)};
  EXPECT_EQ(smallest_efficient(points, 0.5), 1e-3);
  EXPECT_EQ(smallest_efficient(points, 0.7), 1e-3);  // reaching the threshold exactly counts
  EXPECT_EQ(smallest_efficient(points, 0.8), 10e-3);
  EXPECT_EQ(smallest_efficient(points, 0.3), 10e-6);
}

TEST(SmallestEfficient, AnyOrderGivesTheSameAnswer) {
  const std::vector<GranularityPoint> points{point(100e-6, 0.4), point(10e-3, 0.95),
                                             point(10e-6, 0.6), point(1e-3, 0.7)};
  EXPECT_EQ(smallest_efficient(points, 0.5), 1e-3);
}

TEST(SmallestEfficient, EmptyWhenTheLargestFallsShortOrThereAreNoPoints) {
  EXPECT_FALSE(smallest_efficient({point(10e-3, 0.3), point(1e-3, 0.9)}, 0.5));
  EXPECT_FALSE(smallest_efficient({}, 0.5));
}

TEST(SmallestEfficient, FailedPointEndsTheRange) {
  // Its efficiency is stale or 0 either way; a size that failed is not efficient.
  const std::vector<GranularityPoint> points{point(10e-3, 0.9), point(1e-3, 0.9, "task 0 threw"),
                                             point(100e-6, 0.9)};
  EXPECT_EQ(smallest_efficient(points, 0.5), 10e-3);
  EXPECT_FALSE(smallest_efficient({point(10e-3, 0.9, "boom")}, 0.5));
}

TEST(GranularityTasks, FollowTheClampRule) {
  EXPECT_EQ(granularity_tasks(2ms, 20ms, 2), 10u);  // min_batch / size
  EXPECT_EQ(granularity_tasks(200us, 20ms, 2), 100u);
  EXPECT_EQ(granularity_tasks(3ms, 20ms, 2), 8u);  // 6 < 4 × workers
  EXPECT_EQ(granularity_tasks(20ms, 20ms, 4), 16u);
  EXPECT_EQ(granularity_tasks(1ns, 1s, 2), 1'000'000u);           // the cap
  EXPECT_EQ(granularity_tasks(1ms, 1ms, 1'000'000), 1'000'000u);  // 4 × W above the cap
}

TEST(GranularityOptionsCheck, BadOptionsNameTheirFlag) {
  const auto with = [](auto change) {
    GranularityOptions options = small_sweep("threads", 2);
    change(options);
    return [options] { scalelab::validate(options); };
  };
  EXPECT_TRUE(throws_naming(with([](auto& o) { o.model = "fibers"; }), "--model"));
  EXPECT_TRUE(throws_naming(with([](auto& o) { o.model = "fibers"; }), "threads"));  // the names
  EXPECT_TRUE(throws_naming(with([](auto& o) { o.model = "serial"; }), "--model"));
  EXPECT_TRUE(throws_naming(with([](auto& o) { o.workload = "io"; }), "--workload"));
  EXPECT_TRUE(throws_naming(with([](auto& o) { o.workers = -1; }), "--workers"));
  EXPECT_TRUE(throws_naming(with([](auto& o) { o.sizes.clear(); }), "--sizes"));
  EXPECT_TRUE(throws_naming(with([](auto& o) { o.sizes = {1ms, 0ns}; }), "--sizes"));
  EXPECT_TRUE(throws_naming(with([](auto& o) { o.sizes = {1ms, 10us, 1ms}; }), "--sizes"));
  EXPECT_TRUE(throws_naming(with([](auto& o) { o.repeat = 0; }), "--repeat"));
  EXPECT_TRUE(throws_naming(with([](auto& o) { o.min_batch = 0ns; }), "--min-batch"));
  EXPECT_TRUE(throws_naming(with([](auto& o) { o.threshold = 0; }), "--threshold"));
  EXPECT_TRUE(throws_naming(with([](auto& o) { o.threshold = 1.5; }), "--threshold"));
  EXPECT_TRUE(
      throws_naming(with([](auto& o) { o.threshold = std::numeric_limits<double>::quiet_NaN(); }),
                    "--threshold"));
  EXPECT_NO_THROW(with([](auto& o) { o.threshold = 1; })());
  EXPECT_NO_THROW(with([](auto& o) { o.workers = 0; })());
}

TEST(GranularityOptionsCheck, RunRefusesBeforeMeasuring) {
  GranularityOptions options = small_sweep("threads", 2);
  options.repeat = 0;
  int points = 0;
  EXPECT_TRUE(
      throws_naming([&] { run_granularity(options, [&](auto&) { ++points; }); }, "--repeat"));
  EXPECT_EQ(points, 0);
}

TEST(GranularitySweep, ThreadsAtTwoWorkersGiveOnePointPerSizeLargestFirst) {
  GranularityOptions options = small_sweep("threads", 2);
  options.sizes = {20us, 2ms, 200us};  // any order in, largest first out
  options.repeat = 2;
  std::vector<double> seen;
  const auto result = run_granularity(options, [&](const auto& p) { seen.push_back(p.task_s); });

  EXPECT_EQ(result.model, "threads");
  EXPECT_EQ(result.workload, "cpu");
  EXPECT_EQ(result.workers, 2);
  EXPECT_GE(result.cores, 1);
  EXPECT_EQ(result.threshold, 0.5);
  EXPECT_GT(result.calibration.at("iters_per_s").get<double>(), 0);
  ASSERT_EQ(result.points.size(), 3u);
  EXPECT_EQ(seen, (std::vector<double>{2e-3, 200e-6, 20e-6}));
  const std::vector<std::chrono::nanoseconds> sizes{2ms, 200us, 20us};
  for (std::size_t i = 0; i < result.points.size(); ++i) {
    const auto& p = result.points[i];
    SCOPED_TRACE(p.task_s);
    EXPECT_EQ(p.task_s, seen[i]);
    EXPECT_EQ(p.tasks, granularity_tasks(sizes[i], options.min_batch, 2));
    EXPECT_EQ(p.error, "");
    // One sample a repeat, less any disturbed trial whose point has undisturbed ones
    // (trials_in_figures): a loaded machine may disturb some.
    EXPECT_GE(p.serial_samples.size(), 1u);
    EXPECT_LE(p.serial_samples.size(), 2u);
    EXPECT_GE(p.parallel_samples.size(), 1u);
    EXPECT_LE(p.parallel_samples.size(), 2u);
    EXPECT_EQ(p.serial.n, p.serial_samples.size());
    EXPECT_EQ(p.parallel.n, p.parallel_samples.size());
    EXPECT_GT(p.serial.median, 0);
    EXPECT_GT(p.parallel.median, 0);
    // The figures follow from the samples, whatever the timings were.
    EXPECT_DOUBLE_EQ(p.speedup, p.serial.median / p.parallel.median);
    EXPECT_DOUBLE_EQ(p.efficiency, p.speedup / 2);
    EXPECT_LE(p.efficiency_ci.low, p.efficiency_ci.high);
    if (i > 0) {
      EXPECT_LE(p.iters, result.points[i - 1].iters);  // smaller tasks, fewer iterations
    }
  }
  EXPECT_EQ(result.smallest_efficient_task_s, smallest_efficient(result.points, 0.5));

  const auto json = to_json(result);
  EXPECT_TRUE(
      scalelab::testing::has_keys(json, {"model", "workload", "workers", "cores", "threshold",
                                         "calibration", "points", "smallest_efficient_task_s"}));
  ASSERT_EQ(json.at("points").size(), 3u);
  EXPECT_TRUE(scalelab::testing::has_keys(
      json.at("points")[0],
      {"task_s", "tasks", "iters", "serial", "parallel", "serial_samples", "parallel_samples",
       "speedup", "efficiency", "efficiency_ci", "error"}));
  EXPECT_TRUE(json.at("points")[0].at("error").is_null());
}

TEST(GranularitySweep, GivenLoopSpeedSizesTasksWithoutCalibrating) {
  GranularityOptions options = small_sweep("threads", 2);
  options.iters_per_s = 1e8;  // 2 ms = 200000 iterations, 20 us = 2000
  options.warmup = false;
  const auto result = run_granularity(options);
  ASSERT_EQ(result.points.size(), 3u);
  EXPECT_EQ(result.points[0].iters, 200000u);
  EXPECT_EQ(result.points[1].iters, 20000u);
  EXPECT_EQ(result.points[2].iters, 2000u);
  EXPECT_EQ(result.calibration.at("iters_per_s").get<double>(), 1e8);
  EXPECT_EQ(result.calibration.at("measured_s").get<double>(), 0);
}

TEST(GranularitySweep, ZeroWorkersMeansTheUsableCores) {
  GranularityOptions options = small_sweep("threads", 0);
  options.sizes = {1ms};
  options.iters_per_s = 1e8;
  const auto result = run_granularity(options);
  EXPECT_EQ(result.workers, result.cores);
  ASSERT_EQ(result.points.size(), 1u);
  EXPECT_EQ(result.points[0].tasks, granularity_tasks(1ms, 20ms, result.cores));
}

// Every model with workers runs a sweep at several worker counts and passes its checksums.
using Case = std::tuple<std::string, int>;
class GranularityModels : public ::testing::TestWithParam<Case> {};

TEST_P(GranularityModels, EveryPointPassesItsChecks) {
  const auto& [model, workers] = GetParam();
  GranularityOptions options = small_sweep(model, workers);
  options.sizes = {1ms, 50us};
  options.min_batch = 10ms;
  options.iters_per_s = 1e8;
  const auto result = run_granularity(options);
  ASSERT_EQ(result.points.size(), 2u);
  for (const auto& p : result.points) {
    EXPECT_EQ(p.error, "") << model << " at " << workers;
    EXPECT_EQ(p.serial_samples.size(), 1u);
    EXPECT_EQ(p.parallel_samples.size(), 1u);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, GranularityModels,
                         ::testing::Values(Case{"threads", 1}, Case{"threads", 3},
                                           Case{"processes", 2}, Case{"async", 2}, Case{"gil", 2}),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" +
                                  std::to_string(std::get<1>(info.param));
                         });

TEST(GranularitySweep, FailedTrialMarksItsPointAndTheSweepGoesOn) {
  // `corrupt` (a test model) returns a wrong checksum for task 0 of every batch.
  GranularityOptions options = small_sweep("corrupt", 2);
  options.iters_per_s = 1e8;
  int called = 0;
  const auto result = run_granularity(options, [&](auto&) { ++called; });
  EXPECT_EQ(called, 3);
  ASSERT_EQ(result.points.size(), 3u);
  for (const auto& p : result.points) {
    EXPECT_NE(p.error.find("checksum mismatch at task 0"), std::string::npos) << p.error;
    EXPECT_NE(p.error.find("corrupt at 2 workers"), std::string::npos) << p.error;
    EXPECT_EQ(p.efficiency, 0);
  }
  EXPECT_FALSE(result.smallest_efficient_task_s);
  EXPECT_EQ(to_json(result).at("points")[0].at("error").get<std::string>(), result.points[0].error);
  EXPECT_TRUE(to_json(result).at("smallest_efficient_task_s").is_null());
}

#if SCALELAB_HAVE_PYTHON
TEST(GranularitySweep, PythonLoopRunsUnderThreads) {
  GranularityOptions options = small_sweep("threads", 2);
  options.workload = "python";
  options.sizes = {1ms, 100us};
  options.min_batch = 10ms;
  options.iters_per_s = 2e7;  // about the embedded loop's speed; skips its calibration
  const auto result = run_granularity(options);
  EXPECT_EQ(result.workload, "python");
  ASSERT_EQ(result.points.size(), 2u);
  EXPECT_EQ(result.points[0].iters, 20000u);
  for (const auto& p : result.points) EXPECT_EQ(p.error, "");
}

TEST(GranularityOptionsCheck, PythonUnderGilIsRefused) {
  GranularityOptions options = small_sweep("gil", 2);
  options.workload = "python";
  EXPECT_TRUE(throws_naming([&] { scalelab::validate(options); }, "--model"));
}
#endif

TEST(GranularityOptionsRecord, RoundTripsThroughItsJson) {
  GranularityOptions options = small_sweep("processes", 3);
  options.iters_per_s = 1.5e8;
  options.threshold = 0.7;
  options.warmup = false;
  options.rerun_disturbed = 0;
  options.model_options.params = nlohmann::json{{"start_method", "spawn"}};
  const auto back = scalelab::granularity_options_from_json(scalelab::to_json(options));
  EXPECT_EQ(scalelab::to_json(back), scalelab::to_json(options));
  EXPECT_EQ(back.sizes, options.sizes);
  EXPECT_EQ(back.min_batch, options.min_batch);
  auto damaged = scalelab::to_json(options);
  damaged.erase("sizes_s");
  EXPECT_TRUE(throws_naming([&] { scalelab::granularity_options_from_json(damaged); },
                            "granularity spec is damaged"));
}

TEST(GranularityVerdict, AStoppedSweepSaysSoWhateverItsFinishedSizesShowed) {
  scalelab::GranularityResult r;
  r.model = "threads";
  r.workers = 2;
  r.planned_sizes = 3;
  GranularityPoint p;
  p.task_s = 2e-3;
  p.efficiency = 0.3;
  r.points = {p};
  EXPECT_EQ(scalelab::granularity_verdict(r),
            "threads at 2 workers: even 2ms tasks did not reach 50 % efficiency; overhead "
            "dominates at every size measured; the sweep stopped after 1 of 3 sizes");
  r.points[0].efficiency = 0.9;
  r.smallest_efficient_task_s = 2e-3;
  EXPECT_EQ(scalelab::granularity_verdict(r),
            "threads at 2 workers: every size measured down to 2ms reached 50 % efficiency (90 % "
            "there); where overhead takes over is not known yet; the sweep stopped after 1 of 3 "
            "sizes");
  r.points.clear();
  r.smallest_efficient_task_s.reset();
  EXPECT_EQ(scalelab::granularity_verdict(r),
            "threads at 2 workers: the sweep stopped before its first size was done");
}

class GranularitySessionTest : public scalelab::testing::ScratchDirTest {};

TEST_F(GranularitySessionTest, RecordsEveryTrialAndItsRecordsGiveTheSameResult) {
  GranularityOptions options = small_sweep("threads", 2);
  options.iters_per_s = 1e8;
  options.rerun_disturbed = 0;
  std::vector<double> told;
  const auto g = scalelab::run_granularity_session(
      options, dir_ / "out", {}, [&](const GranularityPoint& p) { told.push_back(p.task_s); });
  EXPECT_EQ(told, (std::vector<double>{2e-3, 200e-6, 20e-6}));
  EXPECT_FALSE(g.session.interrupted());
  EXPECT_EQ(g.session.planned_trials, 3u * 2);
  EXPECT_EQ(g.session.recorded_trials, 3u * 2);
  ASSERT_EQ(g.analysis.result.points.size(), 3u);

  const auto recorded = scalelab::read_records(dir_ / "out");
  EXPECT_EQ(recorded.header.kind, "granularity");
  const auto again = scalelab::analyze_granularity(recorded);
  EXPECT_EQ(scalelab::to_json(again.result), scalelab::to_json(g.analysis.result));
  // A sweep's records are not a granularity sweep's, and the other way round.
  EXPECT_THROW(scalelab::resume_session(dir_ / "out", {}), scalelab::Error);
}

TEST_F(GranularitySessionTest, AStopEndsTheSweepAndResumingFinishesIt) {
  GranularityOptions options = small_sweep("threads", 2);
  options.iters_per_s = 1e8;
  options.rerun_disturbed = 0;
  std::stop_source stop;
  scalelab::SessionObserver observer;
  observer.stop = stop.get_token();
  std::size_t counted = 0;
  observer.on_trial = [&](const scalelab::Trial& t, std::size_t, std::size_t) {
    if (!t.warmup() && ++counted == 3) stop.request_stop();
  };
  const auto first = scalelab::run_granularity_session(options, dir_ / "out", observer);
  EXPECT_TRUE(first.session.interrupted());
  EXPECT_EQ(first.session.recorded_trials, 3u);
  EXPECT_TRUE(first.analysis.interrupted);
  // The second size has one of its two trials: no point, and the verdict says it stopped.
  EXPECT_EQ(first.analysis.result.points.size(), 1u);
  EXPECT_EQ(first.analysis.result.planned_sizes, 3u);
  EXPECT_NE(scalelab::granularity_verdict(first.analysis.result).find("stopped after 1 of 3"),
            std::string::npos)
      << scalelab::granularity_verdict(first.analysis.result);
  std::vector<double> told;
  const auto second = scalelab::resume_granularity_session(
      dir_ / "out", {}, [&](const GranularityPoint& p) { told.push_back(p.task_s); });
  // Every size is told, the one finished before the stop first.
  EXPECT_EQ(told, (std::vector<double>{2e-3, 200e-6, 20e-6}));
  EXPECT_FALSE(second.session.interrupted());
  EXPECT_EQ(second.session.recorded_trials, 6u);
  EXPECT_FALSE(second.analysis.interrupted);
  EXPECT_EQ(second.analysis.result.points.size(), 3u);
}

}  // namespace
