#pragma once
/// \file analysis.hpp
/// From trials to figures: per (workload, model, workers) statistics with confidence
/// intervals, speedup and efficiency, noise flags, Amdahl and USL fits, comparisons of two runs,
/// and the conclusions written from them. Pure functions: no I/O, no clocks; every random
/// choice (the bootstrap) is seeded, so the same trials always give the same figures.

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scalelab/histogram.hpp"
#include "scalelab/records.hpp"
#include "scalelab/scan.hpp"
#include "scalelab/trial.hpp"

namespace scalelab {

/// Descriptive statistics of a sample.
struct Stats {
  std::size_t n = 0;
  double min = 0, max = 0, mean = 0, median = 0;
  double stddev = 0;  ///< sample standard deviation (n − 1); 0 for n < 2
  double cv = 0;      ///< stddev / mean; 0 when mean is 0
  double p90 = 0;     ///< 90th percentile, linear interpolation between order statistics
};

/// Statistics of `values` (any order). All zero for an empty sample.
Stats describe(std::span<const double> values);

/// The p-quantile (0 ≤ p ≤ 1) of `values` by linear interpolation between order statistics
/// (Hyndman & Fan type 7, as R's and NumPy's default). 0 for an empty sample.
double quantile(std::span<const double> values, double p);

/// A closed interval [low, high].
struct Interval {
  double low = 0, high = 0;
  bool overlaps(const Interval& other) const { return low <= other.high && other.low <= high; }
  bool contains(double x) const { return low <= x && x <= high; }
};

/// Percentile-bootstrap 95 % confidence interval of the median (Efron & Tibshirani 1993,
/// ch. 13): `resamples` resamples with replacement drawn by splitmix64 from `seed`. One value
/// gives [v, v]; an empty sample [0, 0].
Interval bootstrap_median_ci(std::span<const double> values, std::uint64_t seed,
                             int resamples = 2000);

/// Percentile-bootstrap 95 % interval of median(numerator) / median(denominator), both samples
/// resampled independently. Used for speedup (baseline / point) and for comparing two runs.
Interval bootstrap_ratio_ci(std::span<const double> numerator, std::span<const double> denominator,
                            std::uint64_t seed, int resamples = 2000);

/// Mann–Whitney U test, two-sided (Mann & Whitney 1947). Exact p from the U distribution when
/// both samples are small and untied, else the normal approximation with tie correction and
/// continuity correction.
struct MannWhitney {
  double u = 0;        ///< U of the first sample
  double p_value = 1;  ///< two-sided
  bool exact = false;  ///< p from the exact distribution
};
MannWhitney mann_whitney(std::span<const double> a, std::span<const double> b);

/// What bounds a workload, from the CPU its serial trials used per second of wall time.
/// `unmeasured`: no serial or 1-worker run, and the runs there were kept cores busy, which
/// counts the model's own cost of running many workers (--workers tasks): the task's own share
/// is not known.
enum class Boundness { cpu_bound, wait_bound, mixed, unmeasured };
/// "CPU-bound", "wait-bound", "mixed", "bound not measured".
const char* to_string(Boundness b);

/// Settings of the analysis.
struct AnalysisOptions {
  int cores = 1;                 ///< usable cores of the machine the run measured
  std::uint64_t seed = 0;        ///< seeds every bootstrap (deterministic figures)
  int resamples = 2000;          ///< bootstrap resamples
  double noisy_cv = 0.05;        ///< a point whose CV exceeds this is noisy
  double cpu_bound_util = 0.8;   ///< serial CPU utilisation at or above: CPU-bound
  double wait_bound_util = 0.2;  ///< at or below: wait-bound; between: mixed
  /// A point's median CPU use above cores × (1 + this) is impossible. CPU time is counted in
  /// scheduler ticks and over a window a little longer than the batch, so a reading a hair
  /// above the cores is measurement grain; 2 % is several ticks on a 100 ms trial.
  double cpu_tolerance = 0.02;
};

/// One figure of a point that cannot be true as measured, with the likely cause.
struct ImpossibleFigure {
  std::string figure;  ///< "speedup", "efficiency" or "cpu_util"
  /// What is impossible, with its figures: "speedup 2.50× above the ideal 2× (95 % CI
  /// 2.45×–2.55×)", "CPU use 2.32 cores above the 2 usable".
  std::string reason;
  /// The likely cause, from the figures: "baseline noise (serial's CV is 36.0 %)", "disturbed
  /// trials (…)", "a measurement window (…)", "the baseline ran slower than …".
  std::string cause;
};

/// One line of the summary: a (workload, model, workers) point.
struct SummaryRow {
  std::string workload, model;
  int workers = 1;
  /// The scan's point the row belongs to ({"io_wait_s": 0.01, "tasks": 100}); empty without a
  /// scan. A model that does not take a scanned parameter has a row at each of its values, from
  /// the same trials.
  nlohmann::json point = nlohmann::json::object();
  std::size_t tasks = 0;   ///< tasks per trial
  std::size_t trials = 0;  ///< counted trials in the figures (succeeded; one per planned repeat)
  std::size_t failed = 0;  ///< counted records that failed (excluded from the figures)
  /// Counted records of this point on file: every attempt (reruns included), failed or not.
  std::size_t records = 0;
  /// Of those records, how many were disturbed (another process took the CPUs).
  std::size_t disturbed = 0;
  /// Of the trials in the figures, how many were disturbed: non-zero only when the point had
  /// no undisturbed successful trial at all, so its figures had to use disturbed ones.
  std::size_t disturbed_used = 0;
  std::vector<double> wall_samples;  ///< wall seconds of the trials in the figures, in run order
  Stats wall;                        ///< statistics of wall_samples
  Interval wall_ci;                  ///< bootstrap 95 % CI of the median wall time
  /// Baseline median / this median; the baseline is `serial` for the same workload when it
  /// ran, else this model at 1 worker. Empty without a usable baseline.
  std::optional<double> speedup;
  std::optional<Interval> speedup_ci;     ///< bootstrap 95 % CI of the speedup
  std::optional<double> efficiency;       ///< speedup / workers
  std::optional<Interval> efficiency_ci;  ///< speedup_ci / workers
  std::string baseline;                   ///< "serial", "threads@1", … or empty
  /// The best speedup this point could reach: min(W, cores) for CPU-bound work, min(W, tasks)
  /// for waiting, and min(min(W, tasks), min(W, cores) / u) for mixed work whose serial run
  /// used u cores.
  double ideal = 1;
  double cpu_util = 0;                     ///< median of (user + sys) / wall
  double startup_s = 0;                    ///< median pool start-up time
  std::map<std::string, double> counters;  ///< medians of the model's counters (gil_switches…)
  /// Every task of the trials in the figures, pooled: their durations and start delays (each
  /// trial's histograms, merged). What the report's tail latencies are read from.
  LatencyHistogram task_duration, start_delay;
  bool noisy = false;        ///< CV above AnalysisOptions::noisy_cv, or CI overlaps a neighbour's
  std::string noise_reason;  ///< "CV 7.1 % > 5 %", "CI overlaps 4 workers", …; empty if not noisy
  /// Figures that cannot be true: a speedup above the ideal or an efficiency above 100 % beyond
  /// what their CIs allow, CPU use above the usable cores. Empty when every figure is possible.
  std::vector<ImpossibleFigure> impossible;
  bool is_impossible() const { return !impossible.empty(); }  ///< whether any figure is
};

/// A point's impossible figures as one line, figures sharing a cause together: "speedup 2.50×
/// above the ideal 2× (95 % CI 2.45×–2.55×) and efficiency 125 % above 100 % (95 % CI from
/// 122 %); likely cause: baseline noise (serial's CV is 36.0 %)". Empty when there are none.
std::string impossible_text(const SummaryRow& row);

/// Which trials a point's figures use: of the counted records of one (workload, model,
/// workers) point, per planned repeat the last undisturbed successful attempt, else its last
/// successful attempt; then, when any chosen trial is undisturbed, only the undisturbed ones.
/// So a rerun never counts twice and a disturbed trial counts only when nothing better ran.
/// Returns the chosen trials in record order. Warm-ups and failed trials are never chosen.
std::vector<const Trial*> trials_in_figures(const std::vector<const Trial*>& point_records);

/// How a workload behaved.
struct WorkloadProfile {
  std::string workload;
  Boundness bound = Boundness::cpu_bound;
  double serial_cpu_util = 0;  ///< CPU per wall second of its baseline trials
  std::size_t tasks = 0;
  /// The point the profile was read from: serial when it ran, else the first model's 1-worker
  /// point, else the fewest workers (so conclusions can name it).
  std::string baseline_model = "serial";
  int baseline_workers = 1;
  nlohmann::json point = nlohmann::json::object();  ///< the scan's point (SummaryRow::point)
};

/// Amdahl's law and the Universal Scalability Law (Gunther 1993) fitted to one (workload,
/// model) speedup curve by least squares.
struct ScalingFit {
  std::string workload, model;
  nlohmann::json point = nlohmann::json::object();  ///< the scan's point (SummaryRow::point)
  std::size_t points = 0;                           ///< distinct worker counts used
  std::string refused;  ///< why no fit was made ("needs at least 4 distinct worker counts,
                        ///< has 3"); empty when fitted
  double amdahl_serial_fraction = 0;  ///< f in S(N) = 1 / (f + (1 − f) / N)
  double amdahl_r2 = 0;
  double usl_sigma = 0;   ///< σ, contention
  double usl_kappa = 0;   ///< κ, coherency
  double usl_lambda = 1;  ///< λ, speedup at N = 1 relative to the baseline
  double usl_r2 = 0;
  std::optional<double> usl_peak_workers;  ///< W* = √((1 − σ) / κ) when κ > 0
  bool fitted() const { return refused.empty(); }
};

/// Fits Amdahl and USL to (workers, speedup) points; refuses (ScalingFit::refused) with fewer
/// than 4 distinct worker counts. σ and κ are constrained to be ≥ 0.
ScalingFit fit_scaling(std::span<const int> workers, std::span<const double> speedup);

/// One sentence of the conclusions, with the figures it rests on already in its text.
struct Conclusion {
  std::string workload;  ///< empty for a conclusion about the whole run
  std::string text;  ///< e.g. "CPU-bound: threads reached 1.93× at 2 workers (efficiency 97 %)"
  /// The scan's point it is about; for a conclusion across one axis, the other axes' values.
  nlohmann::json point = nlohmann::json::object();
};

/// One cell of the seed's table: a model on a workload at its best point.
struct SeedCell {
  std::string workload, model;
  bool ran = false;               ///< the model has figures on the workload
  std::optional<double> speedup;  ///< the best speedup there (none: serial, or no baseline)
  int workers = 1;                ///< where: the best speedup's worker count (else the fastest)
  double median_s = 0;            ///< the median wall time there
};

/// The seed's experiment as a table (issue 13): a row per seed model (serial, threads,
/// processes, async), its C++ model next to Python's own (py-threads, …) on the seed's two
/// tasks in both worlds (cpu, python, io, python-io). Made when a run has both worlds.
struct SeedTable {
  std::vector<std::string> workloads;  ///< the columns: those of cpu, python, io, python-io run
  struct Row {
    std::string label;            ///< "threads / py-threads"
    std::vector<SeedCell> cells;  ///< one per column
  };
  std::vector<Row> rows;
};

/// Everything the reports show, computed once.
struct Analysis {
  int cores = 1;
  /// The scan's points in the order of its axes, each with its own rows, profiles, fits and
  /// conclusions; one empty point without a scan.
  std::vector<nlohmann::json> points{nlohmann::json::object()};
  std::vector<WorkloadProfile> workloads;  ///< in workload order
  std::vector<SummaryRow> rows;            ///< by workload, model, then workers
  std::vector<ScalingFit> fits;            ///< one per (workload, model) other than serial
  std::vector<Conclusion> conclusions;     ///< written from the rows and fits
  std::optional<SeedTable> seed;           ///< with C++ and Python workloads side by side
  /// The row of (workload, point, model, workers) with figures (trials > 0), or null.
  const SummaryRow* find(const std::string& workload, const nlohmann::json& point,
                         const std::string& model, int workers) const;
};

/// A workload's points along one axis of a scan, the other axes at fixed values.
struct ScanLine {
  std::string workload;
  std::string key;                     ///< the axis's field
  nlohmann::json fixed;                ///< the other axes' values
  std::vector<nlohmann::json> points;  ///< two or more, in the analysis's point order
};

/// Every line of `analysis` along `axes`: per workload (profile order), axis, and combination
/// of the other axes' values at which the workload ran two or more of the axis's values.
std::vector<ScanLine> scan_lines(const Analysis& analysis, const std::vector<ScanAxis>& axes);

/// Summarises counted trials, ordered by workload (as first seen), model (as first seen),
/// then workers. Each point's figures use trials_in_figures() of its records. Fills
/// statistics, CIs, speedup, ideal, noise and impossible flags, disturbed counts; not fits or
/// conclusions.
std::vector<SummaryRow> summarize(const std::vector<Trial>& trials,
                                  const std::vector<std::string>& workload_order,
                                  const std::vector<std::string>& model_order,
                                  const AnalysisOptions& options = {});

/// Classifies each workload of `rows` by its baseline's CPU utilisation.
std::vector<WorkloadProfile> profile_workloads(const std::vector<SummaryRow>& rows,
                                               const AnalysisOptions& options = {});

/// Conclusions in the seed's spirit, each carrying its figure and true of these rows only:
/// scaling and non-scaling per model, differences between models ("practically equal" when the
/// CIs overlap or the speedups differ by less than 1 %), where a curve peaks, failed, disturbed
/// and noisy points, and every impossible figure with its likely cause.
std::vector<Conclusion> write_conclusions(const Analysis& analysis);

/// The seed's table of `rows` (SeedTable), or none when they lack a C++ or a Python workload
/// of the seed's two tasks, or belong to a scan.
std::optional<SeedTable> seed_table(const std::vector<SummaryRow>& rows);

/// What the seed's table says, pair by pair: "CPU-bound, the seed's two worlds: py-threads
/// stayed at 1.02× at 2 workers while C++ threads reached 1.96× at 2 workers".
std::vector<Conclusion> seed_sentences(const SeedTable& table);

/// The whole analysis: summarize, profile, fit every curve, write conclusions.
Analysis analyze(const std::vector<Trial>& trials, const std::vector<std::string>& workload_order,
                 const std::vector<std::string>& model_order, const AnalysisOptions& options);

/// analyze() per point of a scan: trials grouped by Trial::point, a trial of a model that
/// does not take a scanned parameter in every point it is within (point_within); then
/// conclusions across each axis ("async's lead over threads grew from 1.0× at tasks=100 to
/// 3.1× at tasks=10000"). Without a scan, analyze() itself.
Analysis analyze_points(const std::vector<Trial>& trials,
                        const std::vector<std::string>& workload_order,
                        const std::vector<std::string>& model_order, const AnalysisOptions& options,
                        const std::vector<ScanAxis>& axes);

/// One recorded run, analysed: what every report and results.json show.
struct AnalysedRun : RecordFacts {
  Analysis analysis;  ///< computed once by analyze()
};

/// Analyses a recorded run: workload and model order from its spec, cores from its
/// environment, the bootstrap seeded by its seed; warnings from its environment and records.
/// The same records always give the same figures.
AnalysedRun analyze_run(const RecordedRun& run);

/// One (workload, model, workers) point of two runs side by side.
struct ComparisonRow {
  std::string workload, model;
  int workers = 1;
  /// The scan point both runs measured it at (Trial::point); empty when neither scans.
  nlohmann::json point = nlohmann::json::object();
  Stats a, b;        ///< wall statistics in run A and run B
  double ratio = 0;  ///< median(B) / median(A): below 1, B is faster
  Interval ratio_ci;
  MannWhitney test;
  std::string verdict;  ///< "faster", "slower" or "no significant difference" (B against A)
};

/// Compares two runs point by point: (workload, scan point, model, workers) present in both;
/// significance at p < 0.05 and a ratio CI that excludes 1.
std::vector<ComparisonRow> compare_runs(const std::vector<Trial>& a, const std::vector<Trial>& b,
                                        std::uint64_t seed = 0);

/// A summary row as JSON (median_s, ci, speedup, efficiency, cpu_util, noisy, impossible,
/// disturbed, …).
nlohmann::json to_json(const SummaryRow& row);
/// A fit as JSON.
nlohmann::json to_json(const ScalingFit& fit);

}  // namespace scalelab
