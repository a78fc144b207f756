// The workload registry, the spec's JSON form and the CPU calibration.

#include "scalelab/workload.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "scalelab/error.hpp"
#include "workloads/builtin.hpp"

namespace scalelab {

Async<std::uint64_t> Workload::run_async(std::size_t task, Loop& loop) const {
  const std::uint64_t checksum = run(task);
  loop.update_time();  // the task blocked the loop: its end, and what runs next, are later
  co_return checksum;
}

Registry<WorkloadEntry>& workload_registry() {
  static Registry<WorkloadEntry> registry;
  // Built-ins go in on first use; a static's initialiser runs once, even across threads.
  static const bool filled = [] {
    for (auto& entry : detail::builtin_workloads()) registry.add(std::move(entry));
    return true;
  }();
  (void)filled;
  return registry;
}

nlohmann::json workload_runtimes() {
  nlohmann::json runtimes = nlohmann::json::object();
  for (const auto& entry : workload_registry().entries()) {
    if (entry.runtime) runtimes[entry.name] = entry.runtime();
  }
  return runtimes;
}

const Param& cpu_work_param() {
  static const Param param{"cpu-work", ParamKind::work, "15ms",
                           "CPU work per task: loop iterations (200000) or a duration (5ms) "
                           "calibrated at the start of the run",
                           "CPU work {} per task"};
  return param;
}

std::unique_ptr<Workload> make_workload(const WorkloadSpec& spec) {
  auto entry = workload_registry().find(spec.name);
  if (!entry) {
    throw Error(fmt::format("--workload: unknown workload '{}'; choose from {}", spec.name,
                            workload_registry().names()));
  }
  return entry->make(spec);
}

nlohmann::json to_json(const WorkloadSpec& spec) {
  nlohmann::json json = spec.params.json();
  json["name"] = spec.name;
  return json;
}

WorkloadSpec workload_spec_from_json(const nlohmann::json& json) {
  if (!json.is_object() || !json.contains("name") || !json["name"].is_string()) {
    throw Error("workload spec: no workload name");
  }
  WorkloadSpec spec{json["name"].get<std::string>(), {}};
  for (const auto& [key, value] : json.items()) {
    if (key != "name") spec.params.set(key, value);
  }
  return spec;
}

namespace detail {

CpuCalibration calibrate_loop(const std::function<void(std::uint64_t)>& run,
                              std::uint64_t first_iters, std::chrono::nanoseconds target) {
  using clock = std::chrono::steady_clock;
  const auto started = clock::now();
  // Grow the probe until one run lasts >= 20 ms (timer resolution and start-up effects are then
  // negligible), then keep the fastest of five: preemption only ever makes a run slower.
  std::uint64_t iters = first_iters;
  double best_rate = 0;
  for (int kept = 0; kept < 5;) {
    const auto t0 = clock::now();
    run(iters);
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    if (s < 0.02) {
      iters *= 2;
      continue;
    }
    best_rate = std::max(best_rate, static_cast<double>(iters) / s);
    ++kept;
  }
  CpuCalibration c;
  c.target_s = std::chrono::duration<double>(target).count();
  c.iters_per_s = best_rate;
  c.iters = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(c.target_s * best_rate));
  c.measured_s = std::chrono::duration<double>(clock::now() - started).count();
  return c;
}

}  // namespace detail

CpuCalibration calibrate_cpu(std::chrono::nanoseconds target) {
  volatile std::uint64_t sink = 0;  // keeps the loop from being optimised away
  return detail::calibrate_loop([&](std::uint64_t iters) { sink = sink + cpu_loop(iters); }, 100000,
                                target);
}

}  // namespace scalelab
