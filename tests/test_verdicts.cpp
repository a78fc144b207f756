// The conclusions, on hand-built Analysis values whose figures are known: each rule's sentence
// with its numbers, and the cases where a rule must stay silent.

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "scalelab/analysis.hpp"
#include "support/helpers.hpp"

namespace {

using scalelab::Analysis;
using scalelab::Boundness;
using scalelab::Conclusion;
using scalelab::Interval;
using scalelab::ScalingFit;
using scalelab::SummaryRow;
using scalelab::Trial;
using scalelab::WorkloadProfile;
using scalelab::write_conclusions;
using scalelab::testing::make_row;
using scalelab::testing::make_trial;

WorkloadProfile profile(const std::string& workload, Boundness bound, double util) {
  return {workload, bound, util, 32};
}

// A 2-core analysis of `cpu` with a serial row and the given curves.
Analysis cpu_analysis(std::vector<SummaryRow> curves) {
  Analysis a;
  a.cores = 2;
  a.workloads = {profile("cpu", Boundness::cpu_bound, 0.99)};
  a.rows.push_back(make_row("cpu", "serial", 1, 1.0, {0.97, 1.03}, 1));
  for (auto& r : curves) a.rows.push_back(std::move(r));
  return a;
}

std::vector<std::string> texts(const std::vector<Conclusion>& conclusions) {
  std::vector<std::string> out;
  for (const auto& c : conclusions) out.push_back(c.text);
  return out;
}

// Passes when some conclusion's text is exactly `sentence`; a failure shows them all.
::testing::AssertionResult has_sentence(const std::vector<Conclusion>& conclusions,
                                        const std::string& sentence) {
  for (const auto& c : conclusions) {
    if (c.text == sentence) return ::testing::AssertionSuccess();
  }
  auto failure = ::testing::AssertionFailure()
                 << "no conclusion reads\n  " << sentence << "\nconclusions:";
  for (const auto& c : conclusions) failure << "\n  " << c.text;
  return failure;
}

// How many conclusions contain `fragment`.
std::size_t count_containing(const std::vector<Conclusion>& conclusions,
                             const std::string& fragment) {
  return static_cast<std::size_t>(std::count_if(
      conclusions.begin(), conclusions.end(),
      [&](const Conclusion& c) { return c.text.find(fragment) != std::string::npos; }));
}

TEST(Verdicts, EmptyAnalysisGivesNoConclusions) {
  EXPECT_TRUE(write_conclusions(Analysis{}).empty());
}

TEST(Verdicts, CpuBoundProfileCarriesItsUtilisation) {
  const auto c = write_conclusions(cpu_analysis({}));
  ASSERT_FALSE(c.empty());
  EXPECT_EQ(c.front().text, "cpu is CPU-bound: its serial run kept 0.99 cores busy.");
  EXPECT_EQ(c.front().workload, "cpu");
}

TEST(Verdicts, WithoutSerialTheBaselineUsedIsNamed) {
  Analysis a;
  a.cores = 2;
  WorkloadProfile p = profile("cpu", Boundness::mixed, 0.63);
  p.baseline_model = "threads";
  p.baseline_workers = 1;
  a.workloads = {p};
  const auto c = write_conclusions(a);
  ASSERT_FALSE(c.empty());
  EXPECT_EQ(c.front().text,
            "cpu is mixed: with no serial run, its baseline (threads at 1 worker) kept 0.63 cores "
            "busy, so it computes part of the time and waits the rest.");
}

// --workers tasks: every row at many workers, whose CPU is mostly the model's own (10000
// threads). The least busy model stands as the baseline, and a high figure claims nothing.
TEST(Verdicts, WithOnlyManyWorkersTheTaskIsNotCalledCpuBound) {
  const auto run = [](double threads_cpu, double async_cpu) {
    std::vector<Trial> trials;
    for (int r = 0; r < 3; ++r) {
      Trial threads = make_trial("io", "threads", 1000, r, 0.25);
      threads.user_s = threads.wall_s * threads_cpu;
      Trial async = make_trial("io", "async", 1000, r, 0.06);
      async.user_s = async.wall_s * async_cpu;
      trials.push_back(threads);
      trials.push_back(async);
    }
    return scalelab::analyze(trials, {"io"}, {"threads", "async"}, {.cores = 2}).conclusions;
  };
  const auto busy = run(1.1, 0.28);
  ASSERT_FALSE(busy.empty());
  EXPECT_EQ(busy.front().text,
            "io kept 0.28 cores busy under its least busy model (async at 1000 workers), with no "
            "serial or 1-worker run: that includes the model's own cost of running 1000 workers, "
            "so how much the task itself computes is not measured; add serial to --model to tell.");
  EXPECT_EQ(count_containing(busy, "CPU-bound"), 0u);
  const auto idle = run(0.5, 0.02);
  ASSERT_FALSE(idle.empty());
  EXPECT_EQ(idle.front().text,
            "io is wait-bound: with no serial run, its baseline (async at 1000 workers) kept 0.02 "
            "cores busy, its own cost of running them included, so workers can overlap the "
            "waiting.");
}

TEST(Verdicts, AnalysisWithoutSerialNeverSpeaksOfASerialRun) {
  std::vector<Trial> trials;
  for (int r = 0; r < 3; ++r) {
    Trial one = make_trial("cpu", "threads", 1, r, 1.0);
    Trial two = make_trial("cpu", "threads", 2, r, 0.50 + 0.01 * r);
    two.user_s = two.wall_s * 1.9;
    trials.push_back(one);
    trials.push_back(two);
  }
  const auto analysis = scalelab::analyze(trials, {"cpu"}, {"threads"}, {.cores = 2});
  const auto& c = analysis.conclusions;
  ASSERT_FALSE(c.empty());
  EXPECT_EQ(c.front().text,
            "cpu is CPU-bound: with no serial run, its baseline (threads at 1 worker) kept 1.00 "
            "cores busy.");
  EXPECT_TRUE(has_sentence(c,
                           "cpu (CPU-bound): threads reached 1.96× at 2 workers against threads "
                           "at 1 worker (efficiency 98 %, ideal 2×)."));
  EXPECT_EQ(count_containing(c, "serial run kept"), 0u);
  EXPECT_EQ(count_containing(c, "its serial"), 0u);
}

TEST(Verdicts, ScalingCurveGivesReachedSentenceWithItsNumbers) {
  const auto c = write_conclusions(cpu_analysis({
      make_row("cpu", "threads", 1, 1.00, {0.96, 1.04}, 1),
      make_row("cpu", "threads", 2, 1.94, {1.85, 2.01}, 2),
  }));
  EXPECT_TRUE(has_sentence(c,
                           "cpu (CPU-bound): threads reached 1.94× at 2 workers (efficiency 97 %, "
                           "ideal 2×)."));
}

TEST(Verdicts, GilCurveStaysWithTheLockAsReason) {
  auto at4 = make_row("cpu", "gil", 4, 1.02, {0.97, 1.07}, 2);
  at4.counters["gil_switches"] = 312;
  auto at2 = make_row("cpu", "gil", 2, 0.98, {0.95, 1.01}, 2);
  at2.counters["gil_switches"] = 150;
  const auto c =
      write_conclusions(cpu_analysis({make_row("cpu", "gil", 1, 1.00, {0.98, 1.02}, 1), at2, at4}));
  EXPECT_TRUE(has_sentence(c,
                           "cpu (CPU-bound): gil stayed at 1.02× (best, at 4 workers) — the lock "
                           "serialises CPU work (312 lock hand-overs per trial at 4 workers)."));
  EXPECT_EQ(count_containing(c, "reached"), 0u);
}

TEST(Verdicts, TheSocketServersBusiestPointSaysWhetherItSetThePace) {
  Analysis a;
  a.workloads.push_back(profile("socket", Boundness::wait_bound, 0.0));
  auto serial = make_row("socket", "serial", 1, 1.0, {0.99, 1.01}, 1, 0.0);
  auto threads = make_row("socket", "threads", 100, 40.0, {39.0, 41.0}, 100, 0.5);
  serial.wall.median = 2.0;
  serial.counters["server_cpu_s"] = 0.2;  // 10 %
  threads.wall.median = 0.05;
  threads.counters["server_cpu_s"] = 0.02;  // 40 %
  a.rows = {serial, threads};
  EXPECT_TRUE(has_sentence(write_conclusions(a),
                           "socket's server thread was busy at most 40 % of the wall time "
                           "(threads at 100 workers), so it set the pace of no point."));
  a.rows[1].counters["server_cpu_s"] = 0.045;  // 90 %
  EXPECT_TRUE(has_sentence(write_conclusions(a),
                           "socket's server thread was busy 90 % of the wall time (threads at "
                           "100 workers): there the server may have set the pace, not the model."));
  // A workload without a server says nothing of one.
  EXPECT_EQ(count_containing(write_conclusions(cpu_analysis({
                                 make_row("cpu", "threads", 1, 1.00, {0.96, 1.04}, 1),
                                 make_row("cpu", "threads", 2, 1.94, {1.85, 2.01}, 2),
                             })),
                             "server"),
            0u);
}

TEST(Verdicts, AsyncOnCpuWorkStaysBecauseOfTheOneLoop) {
  const auto c = write_conclusions(cpu_analysis({
      make_row("cpu", "async", 1, 1.01, {0.99, 1.03}, 1, 1.0),
      make_row("cpu", "async", 4, 1.03, {0.99, 1.06}, 2, 1.01),
  }));
  EXPECT_TRUE(has_sentence(c,
                           "cpu (CPU-bound): async stayed at 1.03× (best, at 4 workers) — one "
                           "event loop runs CPU work one task at a time (1.01 cores busy at 4 "
                           "workers)."));
}

TEST(Verdicts, WideCiAboveOnePointTwoIsNotCalledScaling) {
  // 1.5× looks like a gain, but its CI reaches down to 1.1×: not significant.
  const auto c = write_conclusions(cpu_analysis({
      make_row("cpu", "threads", 1, 1.0, {0.9, 1.1}, 1, 1.0),
      make_row("cpu", "threads", 2, 1.5, {1.1, 1.9}, 2, 1.6),
  }));
  EXPECT_TRUE(has_sentence(
      c,
      "cpu (CPU-bound): threads stayed at 1.50× (best, at 2 workers) — no gain from more "
      "workers."));
}

TEST(Verdicts, OneCoreMachineNamesTheIdealAsReason) {
  auto a = cpu_analysis({
      make_row("cpu", "threads", 1, 1.0, {0.98, 1.02}, 1),
      make_row("cpu", "threads", 2, 0.99, {0.97, 1.01}, 1),
  });
  a.cores = 1;
  const auto c = write_conclusions(a);
  EXPECT_TRUE(has_sentence(c,
                           "cpu (CPU-bound): threads stayed at 1.00× (best, at 1 worker) — with 1 "
                           "usable core the ideal is 1×."));
}

TEST(Verdicts, ModelRunAtOneWorkerOnlyGetsNoScalingSentence) {
  const auto c = write_conclusions(cpu_analysis({make_row("cpu", "threads", 1, 1.0, {1, 1}, 1)}));
  EXPECT_EQ(count_containing(c, "threads"), 0u);
}

TEST(Verdicts, OverlappingCisGiveNoSignificantDifference) {
  const auto c = write_conclusions(cpu_analysis({
      make_row("cpu", "threads", 1, 1.00, {0.97, 1.03}, 1),
      make_row("cpu", "threads", 2, 1.93, {1.86, 1.99}, 2),
      make_row("cpu", "processes", 1, 0.99, {0.96, 1.02}, 1),
      make_row("cpu", "processes", 2, 1.90, {1.84, 1.96}, 2),
  }));
  EXPECT_TRUE(has_sentence(c,
                           "cpu at 2 workers: threads 1.93× and processes 1.90× — practically "
                           "equal (95 % CIs overlap)."));
  EXPECT_EQ(count_containing(c, "faster"), 0u);
}

TEST(Verdicts, LessThanOnePercentApartIsPracticallyEqualEvenWithSeparateCis) {
  // 2.000× against 1.996×: the CIs do not overlap, but 0.2 % is no result worth a "faster".
  const auto c = write_conclusions(cpu_analysis({
      make_row("cpu", "threads", 2, 2.000, {1.998, 2.002}, 2),
      make_row("cpu", "processes", 2, 1.996, {1.9935, 1.9965}, 2),
  }));
  EXPECT_TRUE(has_sentence(c,
                           "cpu at 2 workers: threads 2.00× and processes 2.00× — practically "
                           "equal (0.2 % apart, under 1 %)."));
  EXPECT_EQ(count_containing(c, "faster"), 0u);
  // 1.2 % apart with separate CIs is a difference.
  const auto d = write_conclusions(cpu_analysis({
      make_row("cpu", "threads", 2, 2.000, {1.998, 2.002}, 2),
      make_row("cpu", "processes", 2, 1.976, {1.974, 1.978}, 2),
  }));
  EXPECT_TRUE(has_sentence(d,
                           "cpu at 2 workers: threads 2.00× vs processes 1.98×: threads faster "
                           "by 1.2 %."));
}

TEST(Verdicts, SeparateCisGiveFasterBy) {
  const auto c = write_conclusions(cpu_analysis({
      make_row("cpu", "processes", 1, 1.00, {0.97, 1.03}, 1),
      make_row("cpu", "processes", 2, 1.90, {1.84, 1.96}, 2),
      make_row("cpu", "async", 1, 1.00, {0.98, 1.02}, 1),
      make_row("cpu", "async", 2, 1.00, {0.97, 1.03}, 2),
  }));
  EXPECT_TRUE(has_sentence(c,
                           "cpu at 2 workers: processes 1.90× vs async 1.00×: processes "
                           "faster by 90 %."));
}

TEST(Verdicts, ComparisonUsesLargestSharedWorkerCountAndNamesTheFasterFirst) {
  // threads has the best curve (2.00× at 2) but processes is faster at 4, the largest count
  // both ran; async ran only to 2, so it is compared at 2.
  const auto c = write_conclusions(cpu_analysis({
      make_row("cpu", "threads", 2, 2.00, {1.98, 2.02}, 2),
      make_row("cpu", "threads", 4, 1.60, {1.55, 1.65}, 2),
      make_row("cpu", "processes", 2, 1.90, {1.88, 1.92}, 2),
      make_row("cpu", "processes", 4, 1.95, {1.92, 1.98}, 2),
      make_row("cpu", "processes", 8, 1.96, {1.93, 1.99}, 2),
      make_row("cpu", "async", 2, 1.00, {0.98, 1.02}, 2),
  }));
  EXPECT_TRUE(has_sentence(c,
                           "cpu at 4 workers: processes 1.95× vs threads 1.60×: processes "
                           "faster by 22 %."));
  EXPECT_TRUE(has_sentence(c,
                           "cpu at 2 workers: threads 2.00× vs async 1.00×: threads 2.0 times "
                           "as fast."));
  EXPECT_EQ(count_containing(c, " vs "), 2u);  // each model against the best only
}

TEST(Verdicts, SpeedupsOverDifferentBaselinesAreNotCompared) {
  auto threads = make_row("cpu", "threads", 2, 1.9, {1.85, 1.95}, 2);
  threads.baseline = "threads@1";
  auto async = make_row("cpu", "async", 2, 1.0, {0.98, 1.02}, 2);
  async.baseline = "async@1";
  Analysis a;
  a.cores = 2;
  a.rows = {threads, async};
  const auto c = write_conclusions(a);
  EXPECT_EQ(count_containing(c, " vs "), 0u);
  EXPECT_EQ(count_containing(c, "no significant difference"), 0u);
}

TEST(Verdicts, PeakedCurveSaysWhereAndHowFarItFell) {
  const auto c = write_conclusions(cpu_analysis({
      make_row("cpu", "threads", 1, 1.00, {0.97, 1.03}, 1),
      make_row("cpu", "threads", 2, 1.95, {1.90, 2.00}, 2),
      make_row("cpu", "threads", 4, 1.90, {1.85, 1.95}, 2),
      make_row("cpu", "threads", 8, 1.80, {1.75, 1.85}, 2),
  }));
  EXPECT_TRUE(has_sentence(c,
                           "threads on cpu peaked at 2 workers (1.95×); at 8 workers it fell "
                           "to 1.80× — more workers than the 2 cores only add overhead."));
}

TEST(Verdicts, FallWithinTheCisIsNoPeak) {
  const auto c = write_conclusions(cpu_analysis({
      make_row("cpu", "threads", 2, 1.95, {1.88, 2.00}, 2),
      make_row("cpu", "threads", 4, 1.90, {1.84, 1.96}, 2),
  }));
  EXPECT_EQ(count_containing(c, "peaked"), 0u);
}

TEST(Verdicts, CurveThatNeverRoseDidNotPeak) {
  // 1.01× at 1 worker and a significant fall to 0.90×: it stayed, it did not peak.
  const auto c = write_conclusions(cpu_analysis({
      make_row("cpu", "async", 1, 1.01, {0.99, 1.03}, 1),
      make_row("cpu", "async", 4, 0.90, {0.88, 0.92}, 2),
  }));
  EXPECT_EQ(count_containing(c, "peaked"), 0u);
  EXPECT_EQ(count_containing(c, "async stayed at 1.01× (best, at 1 worker)"), 1u);
}

TEST(Verdicts, UslFitWithPeakIsReportedAndRefusedFitIsNot) {
  auto a = cpu_analysis({
      make_row("cpu", "threads", 1, 1.00, {0.97, 1.03}, 1),
      make_row("cpu", "threads", 2, 1.95, {1.90, 2.00}, 2),
      make_row("cpu", "threads", 4, 1.97, {1.92, 2.02}, 2),
      make_row("cpu", "threads", 8, 1.96, {1.91, 2.01}, 2),
      make_row("cpu", "async", 2, 1.00, {0.98, 1.02}, 2),
  });
  ScalingFit fit;
  fit.workload = "cpu";
  fit.model = "threads";
  fit.points = 4;
  fit.usl_sigma = 0.031;
  fit.usl_kappa = 0.0012;
  fit.usl_r2 = 0.99;
  fit.usl_peak_workers = 27.9;
  ScalingFit refused;
  refused.workload = "cpu";
  refused.model = "async";
  refused.refused = "needs at least 4 distinct worker counts, has 1";
  a.fits = {fit, refused};
  const auto c = write_conclusions(a);
  EXPECT_TRUE(has_sentence(c,
                           "USL fit for threads on cpu: σ = 0.031, κ = 0.0012, peak near 28 "
                           "workers, beyond the 8 workers measured (R² 0.99)."));
  EXPECT_EQ(count_containing(c, "USL"), 1u);
}

TEST(Verdicts, NoUslSentenceForAFlatCurveOrAPoorFit) {
  // A gil curve that never rose fits USL with σ near 1 and a "peak" that means nothing; a
  // threads fit with R² 0.5 explains too little to quote.
  Analysis a = cpu_analysis({
      make_row("cpu", "threads", 2, 1.95, {1.90, 2.00}, 2),
      make_row("cpu", "threads", 4, 1.97, {1.92, 2.02}, 2),
      make_row("cpu", "gil", 2, 1.01, {0.98, 1.03}, 2),
      make_row("cpu", "gil", 4, 0.99, {0.97, 1.02}, 2),
  });
  ScalingFit flat;
  flat.workload = "cpu";
  flat.model = "gil";
  flat.points = 4;
  flat.usl_sigma = 0.99;
  flat.usl_kappa = 0.003;
  flat.usl_r2 = 0.95;
  flat.usl_peak_workers = 1.0;
  ScalingFit poor;
  poor.workload = "cpu";
  poor.model = "threads";
  poor.points = 4;
  poor.usl_sigma = 0.1;
  poor.usl_kappa = 0.01;
  poor.usl_r2 = 0.5;
  poor.usl_peak_workers = 9.5;
  a.fits = {poor, flat};
  EXPECT_EQ(count_containing(write_conclusions(a), "USL"), 0u);
}

TEST(Verdicts, WaitBoundCurveIsComparedWithItsIdeal) {
  Analysis a;
  a.cores = 2;
  a.workloads = {profile("io", Boundness::wait_bound, 0.01)};
  a.rows = {make_row("io", "serial", 1, 1.0, {0.99, 1.01}, 1, 0.01),
            make_row("io", "async", 1, 1.0, {0.99, 1.01}, 1, 0.0),
            make_row("io", "async", 32, 31.98, {31.9, 32.05}, 32, 0.01)};
  const auto c = write_conclusions(a);
  ASSERT_GE(c.size(), 2u);
  EXPECT_EQ(c[0].text,
            "io is wait-bound: its serial run kept 0.01 cores busy, so workers can overlap the "
            "waiting.");
  EXPECT_EQ(c[1].text,
            "io (wait-bound): async overlapped the waiting: 31.98× at 32 workers (efficiency "
            "100 %, ideal 32×).");
}

TEST(Verdicts, NoisyPointsAreCountedAndNamed) {
  auto a = cpu_analysis({
      make_row("cpu", "threads", 1, 1.00, {0.97, 1.03}, 1),
      make_row("cpu", "threads", 2, 1.93, {1.85, 2.01}, 2),
      make_row("cpu", "threads", 4, 1.90, {1.80, 2.00}, 2),
  });
  a.rows[2].noisy = true;
  a.rows[2].noise_reason = "CV 7.1 % > 5 %";
  a.rows[3].noisy = true;
  a.rows[3].noise_reason = "CI overlaps 2 workers";
  const auto c = write_conclusions(a);
  ASSERT_FALSE(c.empty());
  EXPECT_EQ(c.back().workload, "");
  EXPECT_EQ(c.back().text,
            "2 of 4 points are noisy: threads on cpu at 2 workers (CV 7.1 % > 5 %); threads on "
            "cpu at 4 workers (CI overlaps 2 workers); differences there may be noise.");
}

TEST(Verdicts, NoNoisyPointsGiveNoNoiseSentence) {
  const auto c = write_conclusions(cpu_analysis({make_row("cpu", "threads", 2, 1.9, {1.8, 2}, 2)}));
  EXPECT_EQ(count_containing(c, "noisy"), 0u);
}

TEST(Verdicts, FailedTrialsAreCountedPerModel) {
  auto at2 = make_row("cpu", "processes", 2, 1.9, {1.8, 2.0}, 2);
  at2.failed = 1;
  at2.trials = 2;
  auto at4 = make_row("cpu", "processes", 4, 1.9, {1.8, 2.0}, 2);
  at4.failed = 1;
  at4.trials = 2;
  const auto c = write_conclusions(cpu_analysis({at2, at4}));
  EXPECT_TRUE(has_sentence(c,
                           "2 trials of processes on cpu failed (at 2, 4 workers); the "
                           "figures exclude them."));
}

TEST(Verdicts, PointWithEveryTrialFailedIsNamed) {
  SummaryRow dead;
  dead.workload = "cpu";
  dead.model = "processes";
  dead.workers = 4;
  dead.failed = 3;
  dead.trials = 0;
  const auto c = write_conclusions(cpu_analysis({dead}));
  EXPECT_TRUE(has_sentence(c,
                           "3 trials of processes on cpu failed (at 4 workers); the figures "
                           "exclude them, and at 4 workers no trial succeeded, so that point "
                           "has no figures."));
}

TEST(Verdicts, PlaceholderCiFallsBackToTheEstimate) {
  // A CI of [0, 0] (no resamples) must not make a clear gain look insignificant.
  const auto c = write_conclusions(cpu_analysis({make_row("cpu", "threads", 2, 1.9, {0, 0}, 2)}));
  EXPECT_EQ(count_containing(c, "threads reached 1.90×"), 1u);
}

// --- impossible figures -------------------------------------------------------------------

// `row` with an impossible speedup (and the cause the analysis would give).
SummaryRow impossible_speedup(SummaryRow row, const std::string& cause) {
  row.impossible.push_back(
      {"speedup",
       fmt::format("speedup {:.2f}× above the ideal {}× (95 % CI {:.2f}×–{:.2f}×)", *row.speedup,
                   row.ideal, row.speedup_ci->low, row.speedup_ci->high),
       cause});
  return row;
}

TEST(Verdicts, AnImpossibleSpeedupIsNeverStatedWithoutSayingSoAndWhy) {
  const auto c = write_conclusions(cpu_analysis({
      make_row("cpu", "processes", 1, 1.00, {0.97, 1.03}, 1),
      impossible_speedup(make_row("cpu", "processes", 2, 2.42, {2.30, 2.55}, 2),
                         "baseline noise (serial's CV is 36.0 %)"),
      make_row("cpu", "threads", 1, 1.00, {0.97, 1.03}, 1),
      make_row("cpu", "threads", 2, 1.20, {1.10, 1.30}, 2),
  }));
  EXPECT_TRUE(has_sentence(
      c,
      "cpu (CPU-bound): processes reached 2.42× at 2 workers (efficiency 121 %, ideal 2×); "
      "processes at 2 workers is impossible: speedup 2.42× above the ideal 2× (95 % CI "
      "2.30×–2.55×); likely cause: baseline noise (serial's CV is 36.0 %)."));
  // Every sentence that quotes the figure says it is impossible, and why.
  ASSERT_GE(count_containing(c, "2.42×"), 2u);  // the scaling and the comparison sentence
  for (const auto& conclusion : c) {
    if (conclusion.text.find("2.42×") == std::string::npos) continue;
    EXPECT_NE(conclusion.text.find("is impossible: speedup 2.42× above the ideal 2×"),
              std::string::npos)
        << conclusion.text;
    EXPECT_NE(conclusion.text.find("likely cause: baseline noise"), std::string::npos)
        << conclusion.text;
  }
  // Named inline, so no sentence of its own.
  EXPECT_EQ(count_containing(c, "shows an impossible figure"), 0u);
}

TEST(Verdicts, APossibleFigureIsTheBestAndTheImpossibleOneGetsItsOwnSentence) {
  const auto c = write_conclusions(cpu_analysis({
      make_row("cpu", "threads", 1, 1.00, {0.97, 1.03}, 1),
      impossible_speedup(make_row("cpu", "threads", 2, 2.50, {2.45, 2.55}, 2),
                         "disturbed trials (3 of serial's 3 trials were disturbed)"),
      make_row("cpu", "threads", 4, 1.95, {1.90, 2.00}, 2),
  }));
  EXPECT_TRUE(has_sentence(c,
                           "cpu (CPU-bound): threads reached 1.95× at 4 workers (efficiency 49 %, "
                           "ideal 2×)."));
  EXPECT_TRUE(has_sentence(c,
                           "threads on cpu at 2 workers shows an impossible figure, not a "
                           "result: speedup 2.50× above the ideal 2× (95 % CI 2.45×–2.55×); "
                           "likely cause: disturbed trials (3 of serial's 3 trials were "
                           "disturbed)."));
  EXPECT_EQ(count_containing(c, "peaked"), 0u);  // 2.50× is no peak to fall from
}

TEST(Verdicts, ImpossibleCpuUseIsNamedAndManyAreCounted) {
  std::vector<SummaryRow> rows;
  for (int w : {1, 2, 4, 8, 16}) {
    SummaryRow row = make_row("cpu", "async", w, 1.0, {0.98, 1.02}, std::min(w, 2), 2.32);
    row.impossible.push_back({"cpu_util", "CPU use 2.32 cores above the 2 usable",
                              "a measurement window (2.32 cores busy on average over 40ms "
                              "trials: CPU time counted over more than the interval it is "
                              "divided by)"});
    rows.push_back(row);
  }
  const auto c = write_conclusions(cpu_analysis(rows));
  EXPECT_TRUE(has_sentence(c,
                           "async on cpu at 2 workers shows an impossible figure, not a result: "
                           "CPU use 2.32 cores above the 2 usable; likely cause: a measurement "
                           "window (2.32 cores busy on average over 40ms trials: CPU time counted "
                           "over more than the interval it is divided by)."));
  // async@1 is quoted (and flagged) by the "stayed" sentence; then 3 are named, 1 counted.
  EXPECT_EQ(count_containing(c, "shows an impossible figure"), 3u);
  EXPECT_TRUE(has_sentence(c,
                           "1 more point of cpu shows impossible figures (flagged in the "
                           "tables)."));
  EXPECT_EQ(count_containing(c, "async at 1 worker is impossible: CPU use 2.32 cores"), 1u);
}

TEST(Verdicts, ImpossibleFiguresFromTrialsReachTheConclusions) {
  // The case: a noisy serial baseline (CV 34 %) gives processes 3× on 2 cores, and even
  // the low end of its CI (0.7 s / 0.332 s) is above 2×.
  std::vector<Trial> trials;
  const std::vector<double> serial{0.7, 1.0, 1.4};
  for (int r = 0; r < 3; ++r) {
    trials.push_back(make_trial("python", "serial", 1, r, serial[r]));
    Trial two = make_trial("python", "processes", 2, r, 0.33 + 0.001 * r);
    two.user_s = two.wall_s * 1.95;
    trials.push_back(two);
  }
  const auto analysis =
      scalelab::analyze(trials, {"python"}, {"serial", "processes"}, {.cores = 2});
  const auto& c = analysis.conclusions;
  ASSERT_EQ(count_containing(c, "3.02×"), 1u);
  EXPECT_EQ(count_containing(c,
                             "processes at 2 workers is impossible: speedup 3.02× above the "
                             "ideal 2×"),
            1u);
  EXPECT_EQ(count_containing(c, "likely cause: baseline noise (serial's CV is 34.0 %)"), 1u);
}

TEST(Verdicts, ComparisonWithAnImpossibleFigureSaysSo) {
  const auto c = write_conclusions(cpu_analysis({
      impossible_speedup(make_row("cpu", "processes", 2, 2.30, {2.20, 2.40}, 2),
                         "baseline noise (serial's CV is 20.0 %)"),
      make_row("cpu", "async", 2, 1.00, {0.97, 1.03}, 2),
  }));
  EXPECT_TRUE(has_sentence(c,
                           "cpu at 2 workers: processes 2.30× vs async 1.00×: processes 2.3 "
                           "times as fast; processes at 2 workers is impossible: speedup 2.30× "
                           "above the ideal 2× (95 % CI 2.20×–2.40×); likely cause: baseline "
                           "noise (serial's CV is 20.0 %)."));
}

// --- disturbed trials -----------------------------------------------------------------------

TEST(Verdicts, DisturbedTrialsAreCountedAndTheirUseNamed) {
  auto at2 = make_row("cpu", "threads", 2, 1.9, {1.85, 1.95}, 2);
  at2.records = 5;
  at2.disturbed = 2;
  auto at4 = make_row("cpu", "threads", 4, 1.9, {1.85, 1.95}, 2);
  at4.records = 3;
  Analysis a = cpu_analysis({at2, at4});
  a.rows[0].records = 3;
  EXPECT_TRUE(has_sentence(write_conclusions(a),
                           "2 of the 11 trials of cpu on record were disturbed (another process "
                           "took the CPUs they needed); the figures leave them out."));
  a.rows[2].records = 6;
  a.rows[2].disturbed = 6;
  a.rows[2].disturbed_used = 3;
  EXPECT_TRUE(has_sentence(write_conclusions(a),
                           "8 of the 14 trials of cpu on record were disturbed (another process "
                           "took the CPUs they needed); the figures leave them out except where "
                           "no undisturbed trial ran: threads at 4 workers (3 of 3)."));
  EXPECT_EQ(count_containing(write_conclusions(cpu_analysis({at4})), "disturbed"), 0u);
}

// A run like the README's: every rule fires somewhere; checks order, digits and determinism.
Analysis full_analysis() {
  Analysis a = cpu_analysis({
      make_row("cpu", "threads", 1, 1.00, {0.97, 1.03}, 1),
      make_row("cpu", "threads", 2, 2.00, {1.95, 2.05}, 2),
      make_row("cpu", "threads", 4, 1.80, {1.75, 1.85}, 2),
      make_row("cpu", "processes", 1, 1.01, {0.98, 1.04}, 1),
      make_row("cpu", "processes", 2, 1.94, {1.90, 1.98}, 2),
      make_row("cpu", "processes", 4, 1.97, {1.93, 2.01}, 2),
      make_row("cpu", "async", 1, 1.01, {0.99, 1.03}, 1),
      make_row("cpu", "async", 4, 1.03, {1.00, 1.06}, 2),
      make_row("cpu", "gil", 1, 1.01, {0.99, 1.03}, 1),
      make_row("cpu", "gil", 4, 0.97, {0.95, 0.99}, 2),
  });
  a.rows.back().counters["gil_switches"] = 96;
  a.rows[3].noisy = true;
  a.rows[3].noise_reason = "CV 6 % > 5 %";
  a.rows[5].failed = 1;
  a.workloads.push_back(profile("io", Boundness::wait_bound, 0.0));
  a.rows.push_back(make_row("io", "serial", 1, 1.0, {0.99, 1.01}, 1, 0.0));
  a.rows.push_back(make_row("io", "threads", 32, 30.72, {30.1, 31.2}, 32, 0.08));
  a.rows.push_back(make_row("io", "async", 32, 31.98, {31.9, 32.05}, 32, 0.01));
  return a;
}

TEST(Verdicts, EverySentenceCarriesAFigure) {
  const auto c = write_conclusions(full_analysis());
  ASSERT_GE(c.size(), 10u);
  for (const auto& conclusion : c) {
    EXPECT_TRUE(std::any_of(conclusion.text.begin(), conclusion.text.end(), [](unsigned char ch) {
      return std::isdigit(ch) != 0;
    })) << conclusion.text;
  }
}

TEST(Verdicts, OrderIsByWorkloadThenRuleAndDeterministic) {
  const Analysis a = full_analysis();
  const auto c = write_conclusions(a);
  EXPECT_EQ(texts(c), texts(write_conclusions(a)));
  // cpu's conclusions, then io's, then the run-wide noise sentence.
  std::vector<std::string> workloads;
  for (const auto& conclusion : c) workloads.push_back(conclusion.workload);
  const auto first_io = std::find(workloads.begin(), workloads.end(), "io");
  ASSERT_NE(first_io, workloads.end());
  EXPECT_TRUE(std::all_of(workloads.begin(), first_io, [](auto& w) { return w == "cpu"; }));
  EXPECT_EQ(workloads.back(), "");
  // Within cpu: the profile first, then the per-model sentences before the comparisons.
  EXPECT_EQ(c[0].text, "cpu is CPU-bound: its serial run kept 0.99 cores busy.");
  EXPECT_EQ(c[1].text,
            "cpu (CPU-bound): threads reached 2.00× at 2 workers (efficiency 100 %, ideal 2×).");
  EXPECT_EQ(c[2].text,
            "cpu (CPU-bound): processes reached 1.97× at 4 workers (efficiency 49 %, ideal 2×).");
  EXPECT_TRUE(has_sentence(c,
                           "io at 32 workers: async 31.98× vs threads 30.72×: async faster by "
                           "4.1 %."));
}

}  // namespace
