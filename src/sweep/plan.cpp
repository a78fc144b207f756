// Spec → Plan: validation, default worker counts, and the shuffled trial order.

#include "scalelab/plan.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "scalelab/error.hpp"
#include "workloads/builtin.hpp"

namespace scalelab {
namespace {

// splitmix64: a fixed, documented generator, so that a recorded seed gives the same order with
// any standard library (std::shuffle's use of its engine is implementation-defined).
std::uint64_t next_random(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

void validate(const Spec& spec) {
  if (spec.workloads.empty()) throw Error("--workload: give at least one workload");
  for (const auto& name : spec.workloads) {
    if (!workload_registry().find(name)) {
      throw Error(fmt::format("--workload: unknown workload '{}'; choose from {}", name,
                              workload_registry().names()));
    }
  }
  if (spec.models.empty()) throw Error("--model: give at least one model");
  for (const auto& name : spec.models) {
    if (!model_registry().find(name)) {
      throw Error(fmt::format("--model: unknown model '{}'; choose from {}", name,
                              model_registry().names()));
    }
  }
  const auto listed_twice = [](const auto& items) {
    for (std::size_t i = 0; i < items.size(); ++i) {
      for (std::size_t j = i + 1; j < items.size(); ++j) {
        if (items[i] == items[j]) return true;
      }
    }
    return false;
  };
  // A name or count listed twice would run its trials twice and weigh them double.
  if (listed_twice(spec.workloads)) throw Error("--workload: a workload is listed twice");
  if (listed_twice(spec.models)) throw Error("--model: a model is listed twice");
  if (listed_twice(spec.workers)) throw Error("--workers: a worker count is listed twice");
  for (int w : spec.workers) {
    if (w < 1) throw Error(fmt::format("--workers: {} is not a worker count; use 1 or more", w));
  }
  if (spec.tasks < 1) throw Error("--tasks: use 1 or more");
  if (spec.repeat < 1) throw Error("--repeat: use 1 or more");
  if (spec.cpu_work.iters == 0 && spec.cpu_work.duration.count() <= 0) {
    throw Error("--cpu-work: give an iteration count above 0 or a duration like 25ms");
  }
  if (spec.io_wait.count() <= 0) throw Error("--io-wait: give a duration above 0, like 20ms");
  if (!(spec.cpu_fraction >= 0 && spec.cpu_fraction <= 1)) {  // also rejects NaN
    throw Error(fmt::format("--cpu-fraction: {} is not a fraction; use a number from 0 to 1",
                            spec.cpu_fraction));
  }
  if (spec.task_time.count() <= 0) throw Error("--task-time: give a duration above 0, like 20ms");
  if (spec.trial_timeout.count() < 0) {
    throw Error("--trial-timeout: give a duration above 0, like 30s (or leave it out: derived)");
  }
  if (spec.rerun_disturbed < 0 || spec.rerun_disturbed > 100) {
    throw Error(fmt::format("--rerun-disturbed: {} is not a rerun count; use 0 to 100",
                            spec.rerun_disturbed));
  }
  if (spec.model_options.switch_interval < std::chrono::microseconds(1)) {
    throw Error("--switch-interval: give a duration of at least 1us, like 5ms");
  }
}

nlohmann::json to_json(const Spec& spec) {
  nlohmann::json cpu_work;
  if (spec.cpu_work.iters != 0) {
    cpu_work["iters"] = spec.cpu_work.iters;
  } else {
    cpu_work["duration_s"] = std::chrono::duration<double>(spec.cpu_work.duration).count();
  }
  return {
      {"workloads", spec.workloads},
      {"models", spec.models},
      {"workers", spec.workers.empty() ? nlohmann::json("auto") : nlohmann::json(spec.workers)},
      {"tasks", spec.tasks},
      {"repeat", spec.repeat},
      {"warmup", spec.warmup},
      {"seed", spec.seed},
      {"cpu_work", cpu_work},
      {"io_wait_s", std::chrono::duration<double>(spec.io_wait).count()},
      {"python_func", spec.python_func},
      {"cpu_fraction", spec.cpu_fraction},
      {"task_time_s", std::chrono::duration<double>(spec.task_time).count()},
      {"switch_interval_s",
       std::chrono::duration<double>(spec.model_options.switch_interval).count()},
      {"start_method", spec.model_options.start_method == StartMethod::fork ? "fork" : "spawn"},
      {"rerun_disturbed", spec.rerun_disturbed},
      {"trial_timeout_s",
       spec.trial_timeout.count() > 0
           ? nlohmann::json(std::chrono::duration<double>(spec.trial_timeout).count())
           : nlohmann::json("auto")},
  };
}

Registry<Calibrator>& calibrator_registry() {
  static Registry<Calibrator> registry;
  static const bool filled = [] {
    registry.add({"cpu", "the seed's loop in C++", calibrate_cpu});
    registry.add({"mixed", "the seed's loop in C++", calibrate_cpu});
#if SCALELAB_HAVE_PYTHON
    registry.add(
        {"python", "the seed's loop in the embedded interpreter", detail::calibrate_python});
#endif
    return true;
  }();
  (void)filled;
  return registry;
}

ResolvedWorkloads resolve_workloads(const Spec& spec) {
  ResolvedWorkloads resolved;
  resolved.calibration = nlohmann::json::object();
  // One calibration per loop, shared by the workloads that use it.
  std::map<std::string, CpuCalibration> by_calibrator;
  const auto iterations_for = [&](const std::string& workload,
                                  std::chrono::nanoseconds target) -> std::uint64_t {
    if (target.count() <= 0) return 0;
    const auto entry = calibrator_registry().find(workload);
    const std::string key = entry ? entry->name : "cpu";
    const Calibrator calibrate = entry ? entry->make : Calibrator(calibrate_cpu);
    // The loop's speed is measured once; each workload scales it to its own target.
    auto it = by_calibrator.find(key);
    if (it == by_calibrator.end()) it = by_calibrator.emplace(key, calibrate(target)).first;
    CpuCalibration c = it->second;
    c.target_s = std::chrono::duration<double>(target).count();
    c.iters = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(c.target_s * c.iters_per_s));
    resolved.calibration[workload] = {{"target_s", c.target_s},
                                      {"iters_per_s", c.iters_per_s},
                                      {"iters", c.iters},
                                      {"measured_s", c.measured_s}};
    return c.iters;
  };
  for (const auto& name : spec.workloads) {
    WorkloadSpec ws{name};
    if (name == "io") {
      ws.io_wait = spec.io_wait;
    } else if (name == "noop") {
      // no parameters
    } else if (name == "mixed") {
      const auto cpu_part =
          std::chrono::duration_cast<std::chrono::nanoseconds>(spec.task_time * spec.cpu_fraction);
      ws.cpu_iters = iterations_for(name, cpu_part);
      ws.io_wait = spec.task_time - cpu_part;
    } else if (name == "python" && !spec.python_func.empty()) {
      // A user's function sizes itself: no loop to calibrate (it would cost ~0.2 s at start).
      ws.python_func = spec.python_func;
    } else {
      // cpu, python's own loop, and a library user's workload: CPU work, and the wait in case
      // it waits.
      ws.cpu_iters = spec.cpu_work.iters != 0 ? spec.cpu_work.iters
                                              : iterations_for(name, spec.cpu_work.duration);
      if (name != "cpu" && name != "python") ws.io_wait = spec.io_wait;
    }
    // Rejects what the workload cannot run, before any file is written; and a model that
    // cannot run it is refused now, not failed trial by trial.
    const auto workload = make_workload(ws);
    for (const auto& model : spec.models) {
      if (const std::string why = workload->unsupported_by(model);
          !why.empty() && !spec.skip_unsupported) {
        throw Error(fmt::format("--model: {} cannot run the {} workload: {}", model, name, why));
      }
    }
    resolved.workloads.push_back(std::move(ws));
  }
  return resolved;
}

std::size_t Plan::counted() const {
  return static_cast<std::size_t>(
      std::count_if(trials.begin(), trials.end(), [](const auto& t) { return !t.warmup(); }));
}

std::vector<int> default_workers(Bound bound, std::size_t tasks, int cores) {
  // CPU-bound work stops scaling at the core count; going to twice that shows the plateau.
  // Waiting scales until every task waits at once, so go up to the task count.
  const std::int64_t top = std::min<std::int64_t>(
      kMaxDefaultWorkers, bound == Bound::wait
                              ? static_cast<std::int64_t>(std::max<std::size_t>(tasks, 1))
                              : 2 * static_cast<std::int64_t>(std::max(cores, 1)));
  std::vector<int> workers;
  for (std::int64_t w = 1; w < top; w *= 2) workers.push_back(static_cast<int>(w));
  workers.push_back(static_cast<int>(top));
  return workers;
}

Plan make_plan(const Spec& spec, std::vector<WorkloadSpec> workloads, int cores) {
  Plan plan;
  plan.workloads = std::move(workloads);
  std::vector<PlannedTrial> counted;
  for (std::size_t wi = 0; wi < plan.workloads.size(); ++wi) {
    const auto workload = make_workload(plan.workloads[wi]);
    for (const auto& model_name : spec.models) {
      if (const std::string why = workload->unsupported_by(model_name); !why.empty()) {
        plan.skipped.push_back(
            fmt::format("{} under {}: {}", plan.workloads[wi].name, model_name, why));
        continue;
      }
      const auto model = make_model(model_name);
      const std::vector<int> workers = !model->uses_workers() ? std::vector<int>{1}
                                       : spec.workers.empty()
                                           ? default_workers(workload->bound(), spec.tasks, cores)
                                           : spec.workers;
      for (int w : workers) {
        for (int r = 0; r < spec.repeat; ++r) counted.push_back({wi, model_name, w, r});
      }
    }
  }
  std::uint64_t state = spec.seed;
  for (std::size_t i = counted.size(); i > 1; --i) {
    std::swap(counted[i - 1], counted[next_random(state) % i]);
  }
  // Each group's warm-up goes right before the first of its trials to run.
  std::set<std::tuple<std::size_t, std::string, int>> warmed;
  for (const auto& t : counted) {
    if (spec.warmup && warmed.insert({t.workload, t.model, t.workers}).second) {
      plan.trials.push_back({t.workload, t.model, t.workers, -1});
    }
    plan.trials.push_back(t);
  }
  return plan;
}

}  // namespace scalelab
