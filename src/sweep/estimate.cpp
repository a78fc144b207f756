// How long a plan should take, from its task sizes: told before the first trial, and by
// --dry-run.

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "scalelab/plan.hpp"
#include "scalelab/workload.hpp"

namespace scalelab {
namespace {

// One task's CPU and wait seconds; false when they are not known.
bool task_times(const PlannedWorkload& w, const nlohmann::json& calibration, double& cpu_s,
                double& wait_s) {
  const nlohmann::json& params = w.spec.params.json();
  const bool has_cpu = params.contains("cpu_iters"), has_wait = params.contains("io_wait_s");
  if (!has_cpu && !has_wait) return false;
  cpu_s = 0;
  wait_s =
      has_wait ? std::chrono::duration<double>(w.spec.params.duration("io_wait_s")).count() : 0;
  const auto iters = has_cpu ? w.spec.params.count("cpu_iters") : 0;
  if (iters == 0) return true;
  const auto c = calibration.find(w.spec.name);
  if (c == calibration.end() || !c->is_object() || !c->contains("iters_per_s") ||
      !(*c)["iters_per_s"].is_number() || !((*c)["iters_per_s"].get<double>() > 0)) {
    return false;  // iterations given as such: their speed was not measured
  }
  cpu_s = static_cast<double>(iters) / (*c)["iters_per_s"].get<double>();
  return true;
}

}  // namespace

PlanEstimate estimate_plan(const Plan& plan, const nlohmann::json& calibration, int cores) {
  PlanEstimate estimate;
  std::map<std::string, std::unique_ptr<Model>> models;
  std::vector<bool> reference_counted(plan.workloads.size(), false);
  for (const auto& t : plan.trials) {
    const PlannedWorkload& w = plan.workloads.at(t.workload);
    double cpu_s = 0, wait_s = 0;
    if (!task_times(w, calibration, cpu_s, wait_s)) {
      ++estimate.unknown_trials;
      continue;
    }
    if (!models.contains(t.model)) models[t.model] = make_model(t.model);
    const Model& model = *models[t.model];
    const auto tasks = static_cast<double>(w.tasks);
    const int workers = std::max(t.workers, 1);
    int parallel = model.cpu_parallelism(workers);
    const auto entry = workload_registry().find(w.spec.name);
    if (entry && entry->one_core_per_process && !model.separate_processes()) parallel = 1;
    parallel = std::clamp(parallel, 1, std::max(cores, 1));
    estimate.seconds +=
        tasks * cpu_s / parallel + std::ceil(tasks / static_cast<double>(workers)) * wait_s;
    if (!reference_counted[t.workload]) {
      // The serial checksums every trial is checked against: the built-in loops' value does
      // not depend on the task, so one task's CPU work (user code is not timed at all).
      reference_counted[t.workload] = true;
      estimate.seconds += cpu_s;
    }
  }
  return estimate;
}

std::string estimate_text(const PlanEstimate& estimate) {
  const double s = estimate.seconds;
  std::string text;
  // Each unit up to where its rounding would read as the next one ("1000ms", "60s").
  if (s < 0.9995) {
    text = fmt::format("{:.0f}ms", s * 1e3);
  } else if (s < 9.95) {
    text = fmt::format("{:.1f}s", s);
  } else if (s < 59.5) {
    text = fmt::format("{:.0f}s", s);
  } else if (s < 3599.5) {
    const auto r = static_cast<long>(std::lround(s));
    text = fmt::format("{}m{:02}s", r / 60, r % 60);
  } else {
    const auto m = static_cast<long>(std::lround(s / 60));
    text = fmt::format("{}h{:02}m", m / 60, m % 60);
  }
  if (estimate.unknown_trials == 0) return "about " + text;
  return fmt::format("at least {} ({} trials of unknown task time not counted)", text,
                     estimate.unknown_trials);
}

}  // namespace scalelab
