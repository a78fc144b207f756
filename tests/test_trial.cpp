// run_trial's checks and measurements, and run_plan over a small plan.

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <vector>

#include "scalelab/records.hpp"
#include "support/fixtures.hpp"
#include "support/helpers.hpp"

namespace scalelab {
namespace {

using testing::cpu_spec;
using testing::expected_for;
using testing::io_spec;

TEST(RunTrial, KeepsEverySpanWhenAskedTo) {
  const auto w = make_workload(cpu_spec(20'000));
  const auto model = make_model("threads");
  RunControl control;
  control.keep_spans = true;
  const Trial t = run_trial(*w, *model, "threads", 2, 0, 6, expected_for(*w, 6), {}, control);
  ASSERT_EQ(t.task_start_s.size(), 6u);
  ASSERT_EQ(t.task_end_s.size(), 6u);
  for (std::size_t i = 0; i < 6; ++i) EXPECT_LE(t.task_start_s[i], t.task_end_s[i]);
}

TEST(RunTrial, MeasuresAGoodTrial) {
  const auto w = make_workload(cpu_spec(2'000'000));
  const auto model = make_model("threads");
  const Trial t = run_trial(*w, *model, "threads", 2, 0, 6, expected_for(*w, 6), {});
  EXPECT_TRUE(t.error.empty()) << t.error;
  EXPECT_TRUE(t.checksum_ok);
  EXPECT_EQ(t.tasks_done, 6u);
  EXPECT_GT(t.wall_s, 0);
  EXPECT_GT(t.user_s + t.sys_s, 0);
  EXPECT_GT(t.max_rss_kib, 0);
  // Histograms, not spans, unless the run keeps spans.
  EXPECT_EQ(t.task_duration.count(), 6u);
  EXPECT_EQ(t.start_delay.count(), 6u);
  EXPECT_GT(t.task_duration.min_s(), 0);
  EXPECT_LE(t.task_duration.max_s(), t.wall_s + 1e-6);
  EXPECT_TRUE(t.task_start_s.empty());
  EXPECT_GE(t.max_in_flight, 1);
  EXPECT_LE(t.max_in_flight, 2);
}

// CPU time and the interval it is divided by are measured together: the interval holds the
// batch's wall time (first dispatch to last result), so CPU use cannot read above the threads
// that ran for want of a window that is too short (noop under threads once read 2.32 on 2
// cores).
TEST(RunTrial, TheCpuWindowCoversTheBatchAndCpuUtilDividesByIt) {
  const auto w = make_workload({"noop", {}});
  const auto model = make_model("threads");
  const Trial t = run_trial(*w, *model, "threads", 2, 0, 2000, expected_for(*w, 2000), {});
  ASSERT_TRUE(t.error.empty()) << t.error;
  EXPECT_GE(t.cpu_window_s, t.wall_s);
  EXPECT_DOUBLE_EQ(t.cpu_util(), (t.user_s + t.sys_s) / t.cpu_window_s);
  const auto json = to_json(t);
  EXPECT_DOUBLE_EQ(json.at("cpu_window_s").get<double>(), t.cpu_window_s);
}

TEST(RunTrial, RecordsTheRunDelayOfItsThreads) {
  const auto w = make_workload(cpu_spec(2'000'000));
  const auto model = make_model("threads");
  const Trial t = run_trial(*w, *model, "threads", 2, 0, 4, expected_for(*w, 4), {});
  ASSERT_TRUE(t.error.empty()) << t.error;
  EXPECT_GE(t.run_delay_s, 0);
  EXPECT_GE(t.steal_s, 0);
  EXPECT_EQ(t.attempt, 0);
  EXPECT_EQ(t.disturbed, disturbed(t, usable_cores()));
}

// The rule itself, on made-up figures: a wait beyond 5 % of the CPU time (and 2 ms) at no more
// workers than cores; never with more workers than cores, where waiting is the model's doing.
TEST(Disturbed, IsAWaitForTheCpusThatTheTrialDidNotCauseItself) {
  Trial t;
  t.workers = 2;
  t.user_s = 1.0;
  t.wall_s = 0.5;
  t.run_delay_s = 0.04;
  EXPECT_FALSE(disturbed(t, 2));  // 4 %
  t.run_delay_s = 0.06;
  EXPECT_TRUE(disturbed(t, 2));   // 6 %
  EXPECT_FALSE(disturbed(t, 1));  // 2 workers on 1 core wait by themselves
  t.run_delay_s = 0;
  t.steal_s = 0.06;  // the hypervisor's steal counts too
  EXPECT_TRUE(disturbed(t, 2));
  t.steal_s = 0;
  t.user_s = 0.001;
  t.run_delay_s = 0.0015;  // 150 % of a tiny trial, but under 2 ms: scheduling jitter
  EXPECT_FALSE(disturbed(t, 2));
  t.wall_s = 1.0;  // a trial that mostly slept: 4 ms late in 1 s is 0.4 % of its wall time
  t.run_delay_s = 0.004;
  EXPECT_FALSE(disturbed(t, 2));
  t.run_delay_s = 0.02;  // 2 %
  EXPECT_TRUE(disturbed(t, 2));
}

TEST(RunTrial, ProcessesCountTheWorkersCpuTime) {
  const auto w = make_workload(cpu_spec(5'000'000));
  const auto model = make_model("processes");
  const Trial t = run_trial(*w, *model, "processes", 2, 0, 8, expected_for(*w, 8), {});
  ASSERT_TRUE(t.error.empty()) << t.error;
  // The work ran in the workers; this process mostly waited. Their CPU time must be counted:
  // at least half what the same 8 tasks cost on this thread (CPU time, so load cannot skew it).
  timespec a{}, b{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
  for (int i = 0; i < 8; ++i) {
    volatile auto sink = w->run(static_cast<std::size_t>(i));
    (void)sink;
  }
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
  const double here_s =
      static_cast<double>(b.tv_sec - a.tv_sec) + 1e-9 * static_cast<double>(b.tv_nsec - a.tv_nsec);
  EXPECT_GT(t.user_s + t.sys_s, 0.5 * here_s);
}

TEST(RunTrial, ChecksumMismatchFailsTheTrialWithTheReason) {
  const auto w = make_workload({"counting", {}});
  const auto model = make_model("corrupt");
  const Trial t = run_trial(*w, *model, "corrupt", 1, 0, 4, expected_for(*w, 4), {});
  EXPECT_FALSE(t.checksum_ok);
  EXPECT_NE(t.error.find("checksum mismatch at task 0"), std::string::npos) << t.error;
  EXPECT_EQ(t.tasks_done, 3u);
}

TEST(RunTrial, PeakMemoryIsThisTrialsNotTheProcesssLargest) {
  {
    std::vector<char> big(256u << 20, 1);  // 256 MiB touched: the process's peak is now high
    volatile char sink = big[12345];
    (void)sink;
  }
  const auto w = make_workload({"noop", {}});
  const Trial t = run_trial(*w, *make_model("serial"), "serial", 1, 0, 4, expected_for(*w, 4), {});
  ASSERT_FALSE(t.failed()) << t.error;
  EXPECT_GT(t.max_rss_kib, 0);
  EXPECT_LT(t.max_rss_kib, 200 * 1024);
}

TEST(RunTrial, ThrowingTaskFailsTheTrialWithItsMessage) {
  for (const char* name : {"serial", "threads", "processes", "async"}) {
    const auto w = make_workload({"throw_at3", {}});
    const auto model = make_model(name);
    const Trial t = run_trial(*w, *model, name, 2, 0, 8, expected_for(*w, 8), {});
    EXPECT_TRUE(t.failed()) << name;
    EXPECT_FALSE(t.checksum_ok) << name;  // task 3 returned no checksum
    EXPECT_NE(t.error.find("task 3 threw: boom at task 3"), std::string::npos) << t.error;
    EXPECT_EQ(t.tasks_done, 7u) << name;
  }
}

TEST(RunTrial, APoolThatCannotStartFailsOnlyItsTrial) {
  const auto w = make_workload({"noop", {}});
  ModelOptions options;
  options.params.set("start_method", "spawn");
  options.worker_executable = "/nonexistent/scalelab";
  const Trial t =
      run_trial(*w, *make_model("processes"), "processes", 2, 0, 4, expected_for(*w, 4), options);
  EXPECT_TRUE(t.failed());
  EXPECT_NE(t.error.find("did not start"), std::string::npos) << t.error;
}

TEST(RunPlan, RunsEveryTrialAndReturnsTheCountedOnes) {
  Spec spec;
  spec.rerun_disturbed = 0;  // counts trials; a loaded machine's reruns would add some
  spec.workloads = {"noop", "throw_at3"};
  spec.models = {"serial", "threads", "async"};
  spec.workers = {1, 3};
  spec.tasks = {5};
  spec.repeat = 2;
  spec.seed = 7;
  const Plan plan = make_plan(spec, {WorkloadSpec{"noop", {}}, WorkloadSpec{"throw_at3", {}}}, 2);
  std::size_t seen = 0, warmups = 0;
  RunObserver observer;
  observer.on_trial = [&](const Trial& t, std::size_t done, std::size_t total) {
    ++seen;
    warmups += t.warmup() ? 1 : 0;
    EXPECT_EQ(done, seen);
    EXPECT_EQ(total, plan.trials.size());
  };
  const auto trials = run_plan(plan, observer);
  EXPECT_EQ(seen, plan.trials.size());
  EXPECT_EQ(trials.size(), plan.counted());
  EXPECT_EQ(trials.size(), 2u * (1 + 2 + 2) * 2);
  for (const auto& t : trials) {
    EXPECT_FALSE(t.warmup());
    // A failing workload fails its trials; the others still pass.
    EXPECT_EQ(t.failed(), t.workload == "throw_at3") << t.workload << " " << t.error;
  }
}

TEST(RunSweep, ACompletedRunSaysSo) {
  Spec spec;
  spec.rerun_disturbed = 0;  // counts trials; a loaded machine's reruns would add some
  spec.workloads = {"noop"};
  spec.models = {"serial", "threads"};
  spec.workers = {2};
  spec.tasks = {3};
  spec.repeat = 2;
  const Plan plan = make_plan(spec, {WorkloadSpec{"noop", {}}}, 2);
  const RunResult result = run_sweep(plan, {});
  EXPECT_EQ(result.end, RunEnd::completed);
  EXPECT_TRUE(result.reason.empty());
  EXPECT_EQ(result.trials_run, plan.trials.size());
  EXPECT_EQ(result.trials.size(), plan.counted());
}

TEST(RunTrial, AHungTrialIsInItsJson) {
  Trial t;
  EXPECT_EQ(to_json(t).at("hung"), false);
  t.hung = true;
  EXPECT_EQ(to_json(t).at("hung"), true);
}

using std::chrono::seconds;

TEST(DefaultTrialTimeout, IsAMinuteWhenNothingIsKnownOrTheWorkIsSmall) {
  EXPECT_EQ(default_trial_timeout({"noop", {}}, 32, {}), seconds(60));
  EXPECT_EQ(default_trial_timeout({"somebody_elses", {}}, 1'000'000, {}), seconds(60));
  // 32 waits of 20 ms: 0.64 s, x10 is still under the minute.
  EXPECT_EQ(default_trial_timeout(io_spec(std::chrono::milliseconds(20)), 32, {}), seconds(60));
}

TEST(DefaultTrialTimeout, IsTenTimesTheEstimateFromTheSpecBeforeAnyMeasurement) {
  // 100 waits of 1 s: 100 s, so 1000 s.
  EXPECT_EQ(default_trial_timeout(io_spec(seconds(1)), 100, {}), seconds(1000));
  // 10 tasks of 1e9 iterations at the conservative 10 M/s: 1000 s, so 10000 s.
  EXPECT_EQ(default_trial_timeout(cpu_spec(1'000'000'000), 10, {}), seconds(10000));
}

TEST(DefaultTrialTimeout, IsTenTimesTheMedianSerialTimeOnceMeasured) {
  // The measurement wins over the estimate, and its median over an outlier.
  EXPECT_EQ(default_trial_timeout(io_spec(seconds(1)), 100, {10, 30, 2000}), seconds(300));
  EXPECT_EQ(default_trial_timeout(io_spec(seconds(1)), 100, {20, 40}), seconds(300));
  EXPECT_EQ(default_trial_timeout(io_spec(seconds(1)), 100, {0.5}), seconds(60));
  // Absurd sizes do not overflow.
  EXPECT_GT(default_trial_timeout(cpu_spec(~std::uint64_t{0}), 10'000'000, {}), seconds(60));
}

TEST(TrialTimeout, IsInTheSpecJsonAndValidated) {
  Spec spec;
  spec.rerun_disturbed = 0;  // counts trials; a loaded machine's reruns would add some
  EXPECT_EQ(to_json(spec).at("trial_timeout_s"), "auto");
  spec.trial_timeout = std::chrono::milliseconds(1500);
  EXPECT_DOUBLE_EQ(to_json(spec).at("trial_timeout_s").get<double>(), 1.5);
  EXPECT_NO_THROW(validate(spec));
  spec.trial_timeout = seconds(-1);
  EXPECT_THROW(validate(spec), Error);
}

}  // namespace
}  // namespace scalelab
