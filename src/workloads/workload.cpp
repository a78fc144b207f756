// The workload registry, the spec's JSON form and the CPU calibration.

#include "scalelab/workload.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "scalelab/error.hpp"
#include "workloads/builtin.hpp"

namespace scalelab {

asio::awaitable<std::uint64_t> Workload::run_async(std::size_t task) const {
  co_return run(task);
}

Registry<WorkloadFactory>& workload_registry() {
  static Registry<WorkloadFactory> registry;
  // Built-ins go in on first use; a static's initialiser runs once, even across threads.
  static const bool filled = [] {
    auto& r = registry;
    r.add({"cpu", "the seed's pure loop s = (s + i*i) % 1000003; size with --cpu-work",
           detail::make_cpu_workload});
    r.add({"io", "waits --io-wait: a sleep in blocking models, an awaited timer in async",
           detail::make_io_workload});
    r.add({"noop", "an empty task: what is left is the model's dispatch overhead",
           detail::make_noop_workload});
    r.add({"mixed", "computes --cpu-fraction of --task-time (the seed's loop), then waits the rest",
           detail::make_mixed_workload});
#if SCALELAB_HAVE_PYTHON
    r.add({"python",
           "the seed's loop in embedded CPython (size with --cpu-work), or --python-func "
           "MODULE:FUNCTION",
           detail::make_python_workload});
#endif
    return true;
  }();
  (void)filled;
  return registry;
}

nlohmann::json workload_runtimes() {
  nlohmann::json runtimes = nlohmann::json::object();
#if SCALELAB_HAVE_PYTHON
  runtimes["python"] = detail::python_runtime();
#endif
  return runtimes;
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
  nlohmann::json json{{"name", spec.name}};
  if (spec.cpu_iters != 0) json["cpu_iters"] = spec.cpu_iters;
  if (!spec.python_func.empty()) json["python_func"] = spec.python_func;
  if (spec.io_wait.count() != 0)
    json["io_wait_s"] = std::chrono::duration<double>(spec.io_wait).count();
  return json;
}

WorkloadSpec workload_spec_from_json(const nlohmann::json& json) {
  try {
    WorkloadSpec spec;
    spec.name = json.at("name").get<std::string>();
    spec.cpu_iters = json.value("cpu_iters", std::uint64_t{0});
    spec.python_func = json.value("python_func", std::string());
    spec.io_wait = std::chrono::round<std::chrono::nanoseconds>(
        std::chrono::duration<double>(json.value("io_wait_s", 0.0)));
    return spec;
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("workload spec: {}", e.what()));
  }
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
