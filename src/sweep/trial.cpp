// Running trials: one trial's measurement and checks, and a whole plan.

#include "scalelab/trial.hpp"

#include <algorithm>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "scalelab/error.hpp"

// Under AddressSanitizer (and so LeakSanitizer): g++ says so with __SANITIZE_ADDRESS__, clang
// with __has_feature.
#if defined(__SANITIZE_ADDRESS__)
#define SCALELAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SCALELAB_ASAN 1
#endif
#endif
#if defined(SCALELAB_ASAN) && __has_include(<sanitizer/lsan_interface.h>)
#include <sanitizer/lsan_interface.h>
#define SCALELAB_LSAN_IGNORE(p) __lsan_ignore_object(p)
#else
#define SCALELAB_LSAN_IGNORE(p) ((void)(p))
#endif

namespace scalelab {
namespace {

// Most tasks whose [start, end) spans overlap at one instant.
int max_overlap(const std::vector<TaskResult>& tasks) {
  std::vector<std::pair<double, int>> events;
  events.reserve(tasks.size() * 2);
  for (const auto& t : tasks) {
    if (t.runs == 0) continue;
    events.emplace_back(t.start_s, +1);
    events.emplace_back(t.end_s, -1);
  }
  std::sort(events.begin(), events.end());  // at a tie, an end (-1) sorts before a start
  int now = 0, most = 0;
  for (const auto& [time, step] : events) most = std::max(most, now += step);
  return most;
}

// Checks every task ran once, returned, and matched serial; returns the first problem.
std::string check_tasks(const std::vector<TaskResult>& tasks,
                        const std::vector<std::uint64_t>& expected, std::size_t& done,
                        bool& checksums_ok) {
  std::string first;
  std::size_t problems = 0;
  done = 0;
  checksums_ok = true;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const auto& t = tasks[i];
    std::string problem;
    if (t.runs != 1) {
      problem = fmt::format("task {} ran {} times", i, t.runs);
      checksums_ok = false;
    } else if (!t.error.empty()) {
      problem = fmt::format("task {} threw: {}", i, t.error);
      checksums_ok = false;  // it returned no checksum to match
    } else if (t.checksum != expected.at(i)) {
      problem = fmt::format("checksum mismatch at task {}: got {}, serial gives {}", i, t.checksum,
                            expected[i]);
      checksums_ok = false;
    } else {
      ++done;
      continue;
    }
    if (problems++ == 0) first = problem;
  }
  if (problems > 1) first += fmt::format(" (and {} more failed tasks)", problems - 1);
  return first;
}

}  // namespace

nlohmann::json to_json(const Trial& t) {
  return {
      {"workload", t.workload},
      {"model", t.model},
      {"workers", t.workers},
      {"repeat", t.repeat},
      {"warmup", t.warmup()},
      {"tasks", t.tasks},
      {"tasks_done", t.tasks_done},
      {"wall_s", t.wall_s},
      {"startup_s", t.startup_s},
      {"user_s", t.user_s},
      {"sys_s", t.sys_s},
      {"cpu_util", t.cpu_util()},
      {"voluntary_ctx", t.voluntary_ctx},
      {"involuntary_ctx", t.involuntary_ctx},
      {"max_rss_kib", t.max_rss_kib},
      {"max_in_flight", t.max_in_flight},
      {"counters", t.counters},
      {"checksum_ok", t.checksum_ok},
      {"error", t.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.error)},
      {"hung", t.hung},
      {"task_start_s", t.task_start_s},
      {"task_end_s", t.task_end_s},
  };
}

Trial run_trial(const Workload& workload, const Model& model, const std::string& model_name,
                int workers, int repeat, std::size_t tasks,
                const std::vector<std::uint64_t>& expected, const ModelOptions& options,
                const RunControl& control) {
  Trial trial;
  trial.workload = workload.spec().name;
  trial.model = model_name;
  trial.workers = workers;
  trial.repeat = repeat;
  trial.tasks = tasks;
  try {
    ResourceUsage::reset_peak();  // the peak is this trial's, not the largest so far
    const auto s0 = std::chrono::steady_clock::now();
    const auto pool = model.start(workload, workers, options);
    trial.startup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - s0).count();
    const ResourceUsage before = ResourceUsage::of_self();
    const BatchResult batch = pool->run(tasks, control);
    ResourceUsage usage = ResourceUsage::of_self().since(before);
    if (batch.has_worker_usage) usage += batch.worker_usage;
    trial.wall_s = batch.wall_s;
    trial.user_s = usage.user_s;
    trial.sys_s = usage.sys_s;
    trial.voluntary_ctx = usage.voluntary_ctx;
    trial.involuntary_ctx = usage.involuntary_ctx;
    trial.max_rss_kib = usage.max_rss_kib;
    trial.max_in_flight = std::max(batch.max_in_flight, max_overlap(batch.tasks));
    trial.counters = batch.counters;
    trial.task_start_s.reserve(tasks);
    trial.task_end_s.reserve(tasks);
    for (const auto& t : batch.tasks) {
      trial.task_start_s.push_back(t.start_s);
      trial.task_end_s.push_back(t.end_s);
    }
    if (batch.tasks.size() != tasks) {
      trial.error =
          fmt::format("the pool returned {} results for {} tasks", batch.tasks.size(), tasks);
    } else {
      trial.error = check_tasks(batch.tasks, expected, trial.tasks_done, trial.checksum_ok);
    }
  } catch (const BatchAborted& e) {
    trial.error = e.what();
    trial.hung = e.reason() == AbortReason::hung;
    trial.checksum_ok = false;
  } catch (const std::exception& e) {
    trial.error = e.what();
    trial.checksum_ok = false;
  }
  return trial;
}

std::chrono::nanoseconds default_trial_timeout(const WorkloadSpec& workload, std::size_t tasks,
                                               const std::vector<double>& serial_wall_s) {
  constexpr double kFloor_s = 60;  // no trial of a sane size comes near it; a hang costs a minute
  constexpr double kMargin = 10;   // a parallel batch slower than 10 x serial is stuck, not slow
  // Below the embedded Python loop's speed (~20 M/s), far below the C++ loop's (~250 M/s): an
  // estimate that errs long, never short.
  constexpr double kSlowIters_per_s = 10e6;
  double expected_s = 0;
  if (!serial_wall_s.empty()) {
    std::vector<double> sorted = serial_wall_s;
    std::sort(sorted.begin(), sorted.end());
    const std::size_t n = sorted.size();
    expected_s = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  } else {
    const double task_s = std::chrono::duration<double>(workload.io_wait).count() +
                          static_cast<double>(workload.cpu_iters) / kSlowIters_per_s;
    expected_s = static_cast<double>(tasks) * task_s;
  }
  // Capped at a year, so that the conversion to nanoseconds cannot overflow.
  const double limit_s = std::min(std::max(kFloor_s, kMargin * expected_s), 365.0 * 86400);
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(limit_s));
}

RunResult run_sweep(const Spec& spec, const Plan& plan, const RunObserver& observer) {
  std::vector<std::unique_ptr<Workload>> workloads;
  std::vector<std::vector<std::uint64_t>> expected;
  for (const auto& ws : plan.workloads) {
    workloads.push_back(make_workload(ws));
    auto& values = expected.emplace_back(spec.tasks);
    for (std::size_t i = 0; i < spec.tasks; ++i) values[i] = workloads.back()->expected_checksum(i);
  }
  std::map<std::string, std::unique_ptr<Model>> models;
  for (const auto& name : spec.models) models[name] = make_model(name);

  // Per workload, the wall times of its passed serial and 1-worker trials so far: what a batch
  // of it takes, for the derived timeout.
  std::vector<std::vector<double>> serial_s(plan.workloads.size());
  std::vector<std::vector<double>> one_worker_s(plan.workloads.size());
  const auto label = [&](const PlannedTrial& p) {
    return fmt::format("{} {} workers={} {}", plan.workloads.at(p.workload).name, p.model,
                       p.workers, p.warmup() ? "warm-up" : fmt::format("repeat {}", p.repeat + 1));
  };

  RunResult result;
  result.trials.reserve(plan.counted());
  for (const auto& planned : plan.trials) {
    if (observer.stop.stop_requested()) {
      result.end = RunEnd::stopped;
      result.reason = fmt::format("stopped before the {} trial", label(planned));
      break;
    }
    const std::size_t w = planned.workload;
    RunControl control;
    control.stop = observer.stop;
    control.timeout =
        spec.trial_timeout.count() > 0
            ? spec.trial_timeout
            : default_trial_timeout(plan.workloads[w], spec.tasks,
                                    serial_s[w].empty() ? one_worker_s[w] : serial_s[w]);
    Trial trial =
        run_trial(*workloads.at(w), *models.at(planned.model), planned.model, planned.workers,
                  planned.repeat, spec.tasks, expected[w], spec.model_options, control);
    if (trial.failed() && !trial.hung && observer.stop.stop_requested()) {
      // Cut short by the stop, it measured nothing and failed through no fault of the model.
      result.end = RunEnd::stopped;
      result.reason =
          fmt::format("stopped: the {} trial was interrupted and is not recorded", label(planned));
      break;
    }
    ++result.trials_run;
    if (!trial.failed()) {
      if (planned.model == "serial") serial_s[w].push_back(trial.wall_s);
      if (planned.workers == 1) one_worker_s[w].push_back(trial.wall_s);
    }
    if (observer.on_trial) observer.on_trial(trial, result.trials_run, plan.trials.size());
    const bool hung = trial.hung;
    if (hung) result.reason = fmt::format("hung: {}: {}", label(planned), trial.error);
    if (!trial.warmup()) result.trials.push_back(std::move(trial));
    if (hung) {
      result.end = RunEnd::hung;
      // The hung trial's abandoned threads may still call into its workload, and would into a
      // destroyed one: every workload is deliberately kept until the process exits.
      for (auto& workload : workloads) SCALELAB_LSAN_IGNORE(workload.release());
      break;
    }
  }
  return result;
}

std::vector<Trial> run_plan(const Spec& spec, const Plan& plan, const RunObserver& observer) {
  return run_sweep(spec, plan, observer).trials;
}

}  // namespace scalelab
