// Granularity sweep: the CPU loop as ever smaller tasks, serially and under one model, to find
// the task size below which the model's per-task overhead eats the parallel gain.

#include "scalelab/granularity.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "scalelab/error.hpp"
#include "scalelab/parse.hpp"
#include "scalelab/plan.hpp"
#include "scalelab/records.hpp"
#include "scalelab/trial.hpp"
#include "support/splitmix.hpp"

namespace scalelab {
namespace {

// A batch of a million tasks already times well at 1 µs each; more would only cost memory
// (per-task start and end times) and checksum time.
constexpr std::size_t kMaxTasks = 1'000'000;

// Workloads a sweep can size: the loops a calibrator times. `mixed` has one too, but it also
// waits, and its efficiency would then measure the waiting, not the overhead.
std::vector<std::string> sweepable_workloads() {
  std::vector<std::string> names{"cpu"};
  if (workload_registry().find("python")) names.emplace_back("python");
  return names;
}

nlohmann::json stats_json(const Stats& s) {
  return {{"n", s.n},     {"median", s.median}, {"mean", s.mean}, {"min", s.min},
          {"max", s.max}, {"stddev", s.stddev}, {"cv", s.cv},     {"p90", s.p90}};
}

// Distinct bootstrap streams per point, from one seed (splitmix64's increment).
std::uint64_t point_seed(std::uint64_t seed, std::size_t index) {
  return seed + detail::kSplitMixGamma * (index + 1);
}

}  // namespace

std::optional<double> smallest_efficient(const std::vector<GranularityPoint>& points,
                                         double threshold) {
  std::vector<const GranularityPoint*> by_size;
  for (const auto& p : points) by_size.push_back(&p);
  std::stable_sort(by_size.begin(), by_size.end(),
                   [](const auto* a, const auto* b) { return a->task_s > b->task_s; });
  std::optional<double> smallest;
  for (const auto* p : by_size) {
    if (p->failed() || !(p->efficiency >= threshold)) break;
    smallest = p->task_s;
  }
  return smallest;
}

std::size_t granularity_tasks(std::chrono::nanoseconds size, std::chrono::nanoseconds min_batch,
                              int workers) {
  const std::size_t low =
      std::min<std::size_t>(4 * static_cast<std::size_t>(std::max(workers, 1)), kMaxTasks);
  const auto per_batch =
      size.count() > 0 ? static_cast<std::size_t>(std::max<std::int64_t>(0, min_batch / size)) : 0;
  return std::clamp(per_batch, low, kMaxTasks);
}

void validate(const GranularityOptions& options) {
  const auto model = make_model(options.model);  // unknown: Error naming --model and the names
  // serial's one thread is the baseline: its efficiency against itself says nothing.
  if (!model->uses_workers()) {
    throw Error(
        fmt::format("--model: {} runs on one thread and is the baseline; choose a model "
                    "with workers, like threads or processes",
                    options.model));
  }
  const auto workloads = sweepable_workloads();
  if (std::find(workloads.begin(), workloads.end(), options.workload) == workloads.end()) {
    throw Error(
        fmt::format("--workload: granularity sweeps a CPU loop; '{}' is not one: choose "
                    "from {}",
                    options.workload, fmt::join(workloads, ", ")));
  }
  if (const std::string why =
          make_workload({options.workload, {{{"cpu_iters", 1}}}})->unsupported_by(options.model);
      !why.empty()) {
    throw Error(fmt::format("--model: {} cannot run the {} workload: {}", options.model,
                            options.workload, why));
  }
  if (options.workers < 0) {
    throw Error(
        fmt::format("--workers: {} is not a worker count; use 1 or more (0: the usable "
                    "cores)",
                    options.workers));
  }
  if (options.sizes.empty()) throw Error("--sizes: give at least one task size, like 1ms,100us");
  for (std::size_t i = 0; i < options.sizes.size(); ++i) {
    if (options.sizes[i].count() <= 0) {
      throw Error("--sizes: every task size must be above 0, like 1ms or 10us");
    }
    for (std::size_t j = i + 1; j < options.sizes.size(); ++j) {
      // The same size twice would be measured twice and listed twice.
      if (options.sizes[i] == options.sizes[j]) {
        throw Error(
            fmt::format("--sizes: {} is listed twice",
                        format_duration(std::chrono::duration<double>(options.sizes[i]).count())));
      }
    }
  }
  if (options.repeat < 1) throw Error("--repeat: use 1 or more");
  if (options.min_batch.count() <= 0) {
    throw Error("--min-batch: give a duration above 0, like 200ms");
  }
  if (!(options.threshold > 0 && options.threshold <= 1)) {  // also rejects NaN
    throw Error(
        fmt::format("--threshold: {} is not an efficiency; use a number above 0 and at "
                    "most 1, like 0.5",
                    options.threshold));
  }
  if (!(options.iters_per_s >= 0) || std::isinf(options.iters_per_s)) {
    throw Error("iters_per_s: use 0 (calibrate) or a measured loop speed");
  }
}

GranularityResult run_granularity(const GranularityOptions& options,
                                  const std::function<void(const GranularityPoint&)>& on_point) {
  validate(options);
  GranularityResult result;
  result.model = options.model;
  result.workload = options.workload;
  result.cores = usable_cores();
  result.workers = options.workers == 0 ? result.cores : options.workers;
  result.threshold = options.threshold;

  std::vector<std::chrono::nanoseconds> sizes = options.sizes;
  std::sort(sizes.begin(), sizes.end(), std::greater<>());

  // The loop's speed is measured once; each size is that speed times its duration.
  double iters_per_s = options.iters_per_s;
  double measured_s = 0;
  if (iters_per_s <= 0) {
    const auto entry = workload_registry().find(options.workload);
    const Calibrator calibrate =
        entry && entry->calibrate ? entry->calibrate : Calibrator(calibrate_cpu);
    const CpuCalibration c = calibrate(sizes.front());
    iters_per_s = c.iters_per_s;
    measured_s = c.measured_s;
  }
  result.calibration = {
      {"workload", options.workload}, {"iters_per_s", iters_per_s}, {"measured_s", measured_s}};

  const auto serial = make_model("serial");
  const auto model = make_model(options.model);
  const int workers = result.workers;
  for (std::size_t index = 0; index < sizes.size(); ++index) {
    GranularityPoint point;
    point.task_s = std::chrono::duration<double>(sizes[index]).count();
    point.tasks = granularity_tasks(sizes[index], options.min_batch, workers);
    point.iters = std::max<std::uint64_t>(
        1, static_cast<std::uint64_t>(std::llround(point.task_s * iters_per_s)));
    const auto workload = make_workload({options.workload, {{{"cpu_iters", point.iters}}}});
    std::vector<std::uint64_t> expected(point.tasks);
    for (std::size_t t = 0; t < point.tasks; ++t) expected[t] = workload->expected_checksum(t);

    // One trial; false (and the point's error set) when it failed.
    const auto run_one = [&](bool parallel, int repeat) {
      const Trial trial = parallel ? run_trial(*workload, *model, options.model, workers, repeat,
                                               point.tasks, expected, options.model_options)
                                   : run_trial(*workload, *serial, "serial", 1, repeat, point.tasks,
                                               expected, options.model_options);
      if (trial.failed()) {
        point.error = fmt::format(
            "{}, {}: {}",
            parallel ? fmt::format("{} at {} workers", options.model, workers) : "serial",
            repeat < 0 ? "warm-up" : fmt::format("repeat {}", repeat + 1), trial.error);
        return false;
      }
      if (repeat >= 0) {
        (parallel ? point.parallel_samples : point.serial_samples).push_back(trial.wall_s);
      }
      return true;
    };
    bool ok = !options.warmup || (run_one(false, -1) && run_one(true, -1));
    // Serial and parallel alternate, and swap which goes first each repeat (ABBA), so that a
    // drift of the machine's speed during the point weighs on both alike.
    for (int r = 0; ok && r < options.repeat; ++r) {
      const bool parallel_first = r % 2 == 1;
      ok = run_one(parallel_first, r) && run_one(!parallel_first, r);
    }

    point.serial = describe(point.serial_samples);
    point.parallel = describe(point.parallel_samples);
    if (ok && point.parallel.median > 0) {
      point.speedup = point.serial.median / point.parallel.median;
      point.efficiency = point.speedup / workers;
      const Interval ci = bootstrap_ratio_ci(point.serial_samples, point.parallel_samples,
                                             point_seed(options.seed, index));
      point.efficiency_ci = {ci.low / workers, ci.high / workers};
    }
    if (on_point) on_point(point);
    result.points.push_back(std::move(point));
  }
  result.smallest_efficient_task_s = smallest_efficient(result.points, result.threshold);
  return result;
}

nlohmann::json to_json(const GranularityResult& result) {
  nlohmann::json points = nlohmann::json::array();
  for (const auto& p : result.points) {
    points.push_back({
        {"task_s", p.task_s},
        {"tasks", p.tasks},
        {"iters", p.iters},
        {"serial", stats_json(p.serial)},
        {"parallel", stats_json(p.parallel)},
        {"serial_samples", p.serial_samples},
        {"parallel_samples", p.parallel_samples},
        {"speedup", p.speedup},
        {"efficiency", p.efficiency},
        {"efficiency_ci", {p.efficiency_ci.low, p.efficiency_ci.high}},
        {"error", p.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.error)},
    });
  }
  return {
      {"model", result.model},
      {"workload", result.workload},
      {"workers", result.workers},
      {"cores", result.cores},
      {"threshold", result.threshold},
      {"calibration", result.calibration},
      {"points", points},
      {"smallest_efficient_task_s", result.smallest_efficient_task_s
                                        ? nlohmann::json(*result.smallest_efficient_task_s)
                                        : nlohmann::json(nullptr)},
  };
}

}  // namespace scalelab
