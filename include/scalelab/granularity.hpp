#pragma once
/// \file granularity.hpp
/// How small can a task get before a model's overhead dominates? A granularity sweep runs the
/// CPU loop as tasks of shrinking size (10 ms down to 1 µs by default) serially and under one
/// model at W workers, and reports each size's parallel efficiency and the smallest size that
/// still reached a threshold (50 % by default): below it, in the seed's words, "overhead
/// dominates".

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scalelab/analysis.hpp"
#include "scalelab/model.hpp"
#include "scalelab/plan.hpp"
#include "scalelab/records.hpp"
#include "scalelab/session.hpp"

namespace scalelab {

/// What a granularity sweep measures.
struct GranularityOptions {
  std::string model;             ///< the model under test (--model); one that uses workers
  std::string workload = "cpu";  ///< "cpu", or "python" when built with CPython (--workload)
  int workers = 0;               ///< W (--workers); 0 means the usable cores
  /// Task sizes to sweep (--sizes); run largest first whatever the order given.
  std::vector<std::chrono::nanoseconds> sizes{
      std::chrono::milliseconds(10),  std::chrono::milliseconds(3),   std::chrono::milliseconds(1),
      std::chrono::microseconds(300), std::chrono::microseconds(100), std::chrono::microseconds(30),
      std::chrono::microseconds(10),  std::chrono::microseconds(3),   std::chrono::microseconds(1)};
  int repeat = 3;  ///< counted serial and parallel trials per size (--repeat)
  /// How long each serial batch should last (--min-batch): tasks per size are
  /// clamp(min_batch / size, 4 × workers, 1 000 000), so tiny tasks still make a batch long
  /// enough to time, and every worker gets several tasks.
  std::chrono::nanoseconds min_batch = std::chrono::milliseconds(200);
  double threshold = 0.5;  ///< efficiency a size must reach to count as efficient, in (0, 1]
  bool warmup = true;      ///< one uncounted serial and parallel trial per size first
  std::uint64_t seed = 0;  ///< seeds the bootstrap of each size's efficiency CI
  /// The loop's speed in iterations per second; 0 measures it (calibrate_cpu or the workload's
  /// calibrator). Passing an earlier run's value reproduces its task sizes.
  double iters_per_s = 0;
  ModelOptions model_options;  ///< start method, switch interval, …
  int rerun_disturbed = 2;     ///< reruns of a disturbed trial (Spec::rerun_disturbed)
};

/// One task size's measurements.
struct GranularityPoint {
  double task_s = 0;                     ///< the task size asked for, seconds
  std::size_t tasks = 0;                 ///< tasks per trial at this size
  std::uint64_t iters = 0;               ///< loop iterations per task (the calibrated size)
  Stats serial;                          ///< wall seconds of the counted serial trials
  Stats parallel;                        ///< wall seconds of the counted trials at W workers
  std::vector<double> serial_samples;    ///< serial wall seconds, in run order
  std::vector<double> parallel_samples;  ///< parallel wall seconds, in run order
  double speedup = 0;                    ///< median serial / median parallel; 0 after a failure
  double efficiency = 0;                 ///< speedup / W; 0 after a failure
  Interval efficiency_ci;                ///< bootstrap 95 % CI of the efficiency
  std::string error;                     ///< the first failed trial's error; empty if none failed
  bool failed() const { return !error.empty(); }  ///< whether a trial at this size failed
};

/// A whole granularity sweep.
struct GranularityResult {
  std::string model, workload;           ///< what ran
  int workers = 1;                       ///< W
  int cores = 1;                         ///< usable cores of this machine
  double threshold = 0.5;                ///< efficiency that counts as efficient
  std::vector<GranularityPoint> points;  ///< largest task size first; finished sizes only
  /// Sizes the sweep planned: more than points.size() when it was stopped before the end.
  std::size_t planned_sizes = 0;
  /// The smallest efficient task size: see smallest_efficient(). Empty when even the largest
  /// size fell short (or failed).
  std::optional<double> smallest_efficient_task_s;
  nlohmann::json calibration;  ///< {workload, iters_per_s, measured_s}; measured_s 0 if given
};

/// The smallest task size (seconds) whose efficiency reached `threshold` while every larger
/// size did too: going down from the largest size, the last one before the first that fell
/// short or failed. A small size that happens to pass below a failing one does not count:
/// the answer is the edge of the efficient range, which noise at one size cannot move past.
/// Points may come in any order. Empty when the largest size already fell short.
std::optional<double> smallest_efficient(const std::vector<GranularityPoint>& points,
                                         double threshold);

/// Tasks per trial for a size: clamp(min_batch / size, min(4 × workers, 1 000 000),
/// 1 000 000).
std::size_t granularity_tasks(std::chrono::nanoseconds size, std::chrono::nanoseconds min_batch,
                              int workers);

/// Checks the options; throws Error naming the flag (--model, --workload, --workers, --sizes,
/// --repeat, --min-batch, --threshold) at the first problem.
void validate(const GranularityOptions& options);

/// Runs the sweep: calibrates, then per size (largest first) interleaves serial and parallel
/// trials, checking every task's checksum against serial. A failed trial sets that point's
/// error and the sweep goes on. `on_point` is called after each size. Throws Error on bad
/// options.
GranularityResult run_granularity(
    const GranularityOptions& options,
    const std::function<void(const GranularityPoint&)>& on_point = {});

/// The sweep as JSON: the settings, each point (sizes and wall times in seconds), and
/// smallest_efficient_task_s (null when none).
nlohmann::json to_json(const GranularityResult& result);

/// A sweep decided before its first trial: the options with W and the loop's speed resolved,
/// and one plan whose workloads are the task sizes, largest first (each entry's point is
/// {"task_s": size}), with each size's trials in the order they run.
struct GranularityPlan {
  GranularityOptions options;  ///< workers > 0 and iters_per_s > 0: nothing left to measure
  int cores = 1;               ///< usable cores of the machine it was planned on
  double measured_s = 0;       ///< how long calibration took; 0 when the speed was given
  Plan plan;                   ///< what run_sweep runs
};

/// Checks the options, measures the loop (unless iters_per_s is given) and plans the sweep.
/// Throws Error on bad options.
GranularityPlan plan_granularity(const GranularityOptions& options);

/// The options as recorded (the header's spec of a granularity run), and back; the latter
/// throws Error naming the field that is missing or wrong.
nlohmann::json to_json(const GranularityOptions& options);
GranularityOptions granularity_options_from_json(const nlohmann::json& json);

/// The sweep's points from its counted trials (each with its point's task_s): per size, the
/// serial and parallel samples in record order (trials_in_figures: one per repeat, undisturbed
/// preferred), their statistics, speedup, efficiency and its CI, and the first failure.
GranularityResult granularity_result(const GranularityPlan& plan, const std::vector<Trial>& trials);

/// A granularity sweep read back from its records and analysed: what its report shows.
/// Its spec is to_json(GranularityOptions).
struct AnalysedGranularity : RecordFacts {
  GranularityResult result;  ///< the points, from the trials on record
};

/// A recorded granularity sweep analysed: its plan from the header (nothing measured again),
/// its points from the trials on record. Throws Error when the records are not of one.
AnalysedGranularity analyze_granularity(const RecordedRun& run);

/// The sweep's answer in one sentence, with the figures it rests on: "threads at 2 workers:
/// tasks down to 100us reach 50 % efficiency (71 %); at 30us it fell to 38 % — below about
/// 100us overhead dominates".
std::string granularity_verdict(const GranularityResult& result);

/// A granularity session's end: how it ran, and its analysis as its files show it.
struct GranularitySession {
  SessionResult session;         ///< stop, failures and trial counts, as for a sweep
  AnalysedGranularity analysis;  ///< empty when the session stopped before its first trial
};

/// Runs the sweep into `folder` as a run goes (session.hpp): header (kind "granularity"),
/// every trial with its point's task_s, end line, then results.csv, results.json, report.md
/// and report.html from the records. `on_point` is called as each size is done. Throws Error
/// on bad options, before anything is written.
GranularitySession run_granularity_session(
    const GranularityOptions& options, const std::filesystem::path& folder,
    const SessionObserver& observer,
    const std::function<void(const GranularityPoint&)>& on_point = {});

/// Continues a recorded granularity sweep: the trials not on record, then its files again.
/// Throws Error when the records cannot be continued.
GranularitySession resume_granularity_session(
    const std::filesystem::path& folder, const SessionObserver& observer,
    const std::function<void(const GranularityPoint&)>& on_point = {});

}  // namespace scalelab
