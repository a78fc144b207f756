// Granularity sweep: the CPU loop as ever smaller tasks, serially and under one model, to find
// the task size below which the model's per-task overhead eats the parallel gain.

#include "scalelab/granularity.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "scalelab/analysis.hpp"
#include "scalelab/error.hpp"
#include "scalelab/parse.hpp"
#include "scalelab/plan.hpp"
#include "scalelab/plugins.hpp"
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

namespace {

// The sweep scans task sizes; a second axis would mix two questions in one threshold.
void refuse_scans(const ParamValues& params) {
  for (const auto& d : declared_params()) {
    if (params.has(d.param.key()) && params.json().at(d.param.key()).is_array()) {
      throw Error(fmt::format(
          "{}: the granularity sweep takes one value; scan it with scalelab run", d.param.flag()));
    }
  }
}

}  // namespace

void validate(const GranularityOptions& options) {
  const auto model = make_model(options.model);  // unknown: Error naming --model and the names
  refuse_scans(options.model_options.params);
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
          unsupported(*make_workload({options.workload, {{{"cpu_iters", 1}}}}), options.model);
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
  if (options.rerun_disturbed < 0 || options.rerun_disturbed > 100) {
    throw Error("--rerun-disturbed: use 0 to 100");
  }
}

GranularityPlan plan_granularity(const GranularityOptions& options) {
  validate(options);
  GranularityPlan g;
  g.options = options;
  g.cores = usable_cores();
  GranularityOptions& o = g.options;
  if (o.workers == 0) o.workers = g.cores;
  std::sort(o.sizes.begin(), o.sizes.end(), std::greater<>());
  // The loop's speed is measured once; each size is that speed times its duration.
  if (o.iters_per_s <= 0) {
    const auto entry = workload_registry().find(o.workload);
    const Calibrator calibrate =
        entry && entry->calibrate ? entry->calibrate : Calibrator(calibrate_cpu);
    const CpuCalibration c = calibrate(o.sizes.front());
    o.iters_per_s = c.iters_per_s;
    g.measured_s = c.measured_s;
  }
  Plan& plan = g.plan;
  plan.rerun_disturbed = o.rerun_disturbed;
  plan.options = o.model_options;
  for (std::size_t index = 0; index < o.sizes.size(); ++index) {
    const double task_s = std::chrono::duration<double>(o.sizes[index]).count();
    const auto iters = std::max<std::uint64_t>(
        1, static_cast<std::uint64_t>(std::llround(task_s * o.iters_per_s)));
    plan.workloads.push_back({{o.workload, {{{"cpu_iters", iters}}}},
                              granularity_tasks(o.sizes[index], o.min_batch, o.workers),
                              {{"task_s", task_s}}});
    const PlannedTrial serial{index, "serial", 1, 0}, parallel{index, o.model, o.workers, 0};
    const auto add = [&](PlannedTrial t, int repeat) {
      t.repeat = repeat;
      plan.trials.push_back(t);
    };
    if (o.warmup) {
      add(serial, -1);
      add(parallel, -1);
    }
    // Serial and parallel alternate, and swap which goes first each repeat (ABBA), so that a
    // drift of the machine's speed during the point weighs on both alike.
    for (int r = 0; r < o.repeat; ++r) {
      add(r % 2 == 1 ? parallel : serial, r);
      add(r % 2 == 1 ? serial : parallel, r);
    }
  }
  return g;
}

namespace detail {

GranularityPoint size_point(const GranularityPlan& g, std::size_t index,
                            const std::vector<const Trial*>& trials) {
  const PlannedWorkload& entry = g.plan.workloads[index];
  const int workers = g.options.workers;
  GranularityPoint point;
  point.task_s = entry.point.at("task_s").get<double>();
  point.tasks = entry.tasks;
  point.iters = entry.spec.params.count("cpu_iters");
  std::vector<const Trial*> serial, parallel;
  for (const Trial* t : trials) {
    if (t->failed() && point.error.empty()) {
      point.error =
          fmt::format("{}, repeat {}: {}",
                      t->model == "serial" ? std::string("serial")
                                           : fmt::format("{} at {} workers", t->model, t->workers),
                      t->repeat + 1, t->error);
    }
    (t->model == "serial" ? serial : parallel).push_back(t);
  }
  for (const Trial* t : trials_in_figures(serial)) point.serial_samples.push_back(t->wall_s);
  for (const Trial* t : trials_in_figures(parallel)) point.parallel_samples.push_back(t->wall_s);
  point.serial = describe(point.serial_samples);
  point.parallel = describe(point.parallel_samples);
  if (point.error.empty() && point.parallel.median > 0) {
    point.speedup = point.serial.median / point.parallel.median;
    point.efficiency = point.speedup / workers;
    const Interval ci = bootstrap_ratio_ci(point.serial_samples, point.parallel_samples,
                                           point_seed(g.options.seed, index));
    point.efficiency_ci = {ci.low / workers, ci.high / workers};
  }
  return point;
}

std::size_t size_index(const GranularityPlan& g, const Trial& t) {
  for (std::size_t i = 0; i < g.plan.workloads.size(); ++i) {
    if (g.plan.workloads[i].point == t.point) return i;
  }
  return std::string::npos;
}

bool size_complete(const GranularityPlan& g, std::size_t index,
                   const std::vector<const Trial*>& trials) {
  std::set<std::pair<bool, int>> on_record;  // (parallel, repeat)
  for (const Trial* t : trials) {
    if (size_index(g, *t) == index && !t->warmup())
      on_record.insert({t->model != "serial", t->repeat});
  }
  return on_record.size() == 2 * static_cast<std::size_t>(g.options.repeat);
}

}  // namespace detail

GranularityResult granularity_result(const GranularityPlan& g, const std::vector<Trial>& trials) {
  GranularityResult result;
  result.model = g.options.model;
  result.workload = g.options.workload;
  result.workers = g.options.workers;
  result.cores = g.cores;
  result.threshold = g.options.threshold;
  result.calibration = {{"workload", g.options.workload},
                        {"iters_per_s", g.options.iters_per_s},
                        {"measured_s", g.measured_s}};
  std::vector<std::vector<const Trial*>> by_size(g.plan.workloads.size());
  for (const Trial& t : trials) {
    const std::size_t i = detail::size_index(g, t);
    if (i != std::string::npos && !t.warmup()) by_size[i].push_back(&t);
  }
  result.planned_sizes = by_size.size();
  for (std::size_t i = 0; i < by_size.size(); ++i) {
    // A size the sweep did not finish (it was stopped) has no point yet: its figures would
    // rest on some of its trials, and the verdict on a size half measured.
    if (detail::size_complete(g, i, by_size[i])) {
      result.points.push_back(detail::size_point(g, i, by_size[i]));
    }
  }
  result.smallest_efficient_task_s = smallest_efficient(result.points, result.threshold);
  return result;
}

nlohmann::json to_json(const GranularityOptions& o) {
  nlohmann::json sizes = nlohmann::json::array();
  for (const auto size : o.sizes) sizes.push_back(std::chrono::duration<double>(size).count());
  return {{"model", o.model},
          {"workload", o.workload},
          {"workers", o.workers},
          {"sizes_s", sizes},
          {"repeat", o.repeat},
          {"min_batch_s", std::chrono::duration<double>(o.min_batch).count()},
          {"threshold", o.threshold},
          {"warmup", o.warmup},
          {"seed", o.seed},
          {"iters_per_s", o.iters_per_s},
          {"rerun_disturbed", o.rerun_disturbed},
          {"params", o.model_options.params.json()}};
}

GranularityOptions granularity_options_from_json(const nlohmann::json& json) {
  const auto seconds = [](double s) { return std::chrono::nanoseconds(std::llround(s * 1e9)); };
  GranularityOptions o;
  try {
    o.model = json.at("model").get<std::string>();
    o.workload = json.at("workload").get<std::string>();
    o.workers = json.at("workers").get<int>();
    o.sizes.clear();
    for (const auto& size : json.at("sizes_s")) o.sizes.push_back(seconds(size.get<double>()));
    o.repeat = json.at("repeat").get<int>();
    o.min_batch = seconds(json.at("min_batch_s").get<double>());
    o.threshold = json.at("threshold").get<double>();
    o.warmup = json.at("warmup").get<bool>();
    o.seed = json.at("seed").get<std::uint64_t>();
    o.iters_per_s = json.at("iters_per_s").get<double>();
    o.rerun_disturbed = json.value("rerun_disturbed", 2);
    o.model_options.params = json.value("params", nlohmann::json::object());
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("the recorded granularity spec is damaged: {}", e.what()));
  }
  validate(o);
  return o;
}

AnalysedGranularity analyze_granularity(const RecordedRun& run) {
  if (run.header.kind != "granularity") {
    throw Error(
        fmt::format("the records are of a {} run, not a granularity sweep", run.header.kind));
  }
  // Planned from the recorded loop speed and worker count: nothing is measured again.
  GranularityPlan g = plan_granularity(granularity_options_from_json(run.header.spec));
  // The figures are about the machine that ran the trials.
  const auto cores = run.header.environment.find("usable_cores");
  if (cores != run.header.environment.end() && cores->is_number_integer()) {
    g.cores = std::max(1, cores->get<int>());
  }
  const auto measured = run.header.calibration.find("measured_s");
  g.measured_s = measured != run.header.calibration.end() && measured->is_number()
                     ? measured->get<double>()
                     : 0.0;
  AnalysedGranularity analysed;
  static_cast<RecordFacts&>(analysed) = record_facts(run);
  analysed.result = granularity_result(g, run.trials);
  return analysed;
}

namespace {

// The verdict on the sizes measured; `partial`: the sweep stopped before its smaller sizes.
std::string sized_verdict(const GranularityResult& result, bool partial) {
  const auto& points = result.points;
  const int threshold_pct = static_cast<int>(std::lround(result.threshold * 100));
  if (!result.smallest_efficient_task_s) {
    return fmt::format(
        "{} at {} workers: even {} tasks did not reach {} % efficiency; overhead dominates at "
        "every size {}",
        result.model, result.workers,
        points.empty() ? "the largest" : format_duration(points.front().task_s), threshold_pct,
        partial ? "measured" : "tried");
  }
  const double edge = *result.smallest_efficient_task_s;
  const auto below = std::find_if(points.begin(), points.end(),
                                  [&](const GranularityPoint& p) { return p.task_s < edge; });
  const auto at = std::find_if(points.begin(), points.end(),
                               [&](const GranularityPoint& p) { return p.task_s == edge; });
  if (below == points.end()) {
    return fmt::format(
        "{} at {} workers: every size{} down to {} reached {} % efficiency ({:.0f} % there); {}",
        result.model, result.workers, partial ? " measured" : "", format_duration(edge),
        threshold_pct, at->efficiency * 100,
        partial ? "where overhead takes over is not known yet"
                : "the edge is below the sizes tried");
  }
  return fmt::format(
      "{} at {} workers: tasks down to {} reach {} % efficiency ({:.0f} %); at {} it fell to {} "
      "— below about {} overhead dominates",
      result.model, result.workers, format_duration(edge), threshold_pct, at->efficiency * 100,
      format_duration(below->task_s),
      below->failed() ? std::string("a failure") : fmt::format("{:.0f} %", below->efficiency * 100),
      format_duration(edge));
}

}  // namespace

std::string granularity_verdict(const GranularityResult& result) {
  const bool partial = result.planned_sizes > result.points.size();
  if (!partial) return sized_verdict(result, false);
  // A stopped sweep: what its finished sizes say, and that the rest is not known.
  if (result.points.empty()) {
    return fmt::format("{} at {} workers: the sweep stopped before its first size was done",
                       result.model, result.workers);
  }
  return fmt::format("{}; the sweep stopped after {} of {} sizes", sized_verdict(result, true),
                     result.points.size(), result.planned_sizes);
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
      {"planned_sizes", result.planned_sizes},
      {"smallest_efficient_task_s", result.smallest_efficient_task_s
                                        ? nlohmann::json(*result.smallest_efficient_task_s)
                                        : nlohmann::json(nullptr)},
  };
}

}  // namespace scalelab
