// Running trials: one trial's measurement and checks, and a whole plan.

#include "scalelab/trial.hpp"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include <fmt/format.h>

#include "scalelab/error.hpp"
#include "scalelab/parse.hpp"
#include "scalelab/plugins.hpp"
#include "scalelab/records.hpp"
#include "sweep/isolate.hpp"

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

// The starts and the ends of the tasks that ran, each sorted: what the overlap and the start
// delays are worked out from, at 16 bytes a task.
struct SortedSpans {
  std::vector<double> starts, ends;
};

SortedSpans sorted_spans(const std::vector<TaskResult>& tasks) {
  SortedSpans spans;
  spans.starts.reserve(tasks.size());
  spans.ends.reserve(tasks.size());
  for (const auto& t : tasks) {
    if (t.runs == 0) continue;
    spans.starts.push_back(t.start_s);
    spans.ends.push_back(std::max(t.end_s, t.start_s));
  }
  std::sort(spans.starts.begin(), spans.starts.end());
  std::sort(spans.ends.begin(), spans.ends.end());
  return spans;
}

// Most tasks whose [start, end) spans overlap at one instant; at a tie an end comes first.
int max_overlap(const SortedSpans& spans) {
  int now = 0, most = 0;
  std::size_t e = 0;
  for (const double start : spans.starts) {
    while (e < spans.ends.size() && spans.ends[e] <= start) ++e, --now;
    most = std::max(most, ++now);
  }
  return most;
}

// The trial's per-task figures: histograms always, every span only when asked for.
void record_tasks(Trial& trial, const BatchResult& batch, bool keep_spans) {
  const SortedSpans spans = sorted_spans(batch.tasks);
  trial.max_in_flight = std::max(batch.max_in_flight, max_overlap(spans));
  trial.start_delay = start_delays(spans.starts, spans.ends, trial.workers);
  for (const auto& t : batch.tasks) {
    if (t.runs > 0) trial.task_duration.add(t.end_s - t.start_s);
  }
  if (!keep_spans) return;
  trial.task_start_s.reserve(batch.tasks.size());
  trial.task_end_s.reserve(batch.tasks.size());
  for (const auto& t : batch.tasks) {
    trial.task_start_s.push_back(t.start_s);
    trial.task_end_s.push_back(t.end_s);
  }
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
      problem = fmt::format("task {} threw: {}", i, t.error.str());
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

// The names in a /proc folder that are numbers (task ids, process ids).
std::vector<std::string> numeric_entries(const std::string& folder) {
  std::vector<std::string> names;
  DIR* dir = ::opendir(folder.c_str());
  if (dir == nullptr) return names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (!name.empty() && name.find_first_not_of("0123456789") == std::string_view::npos) {
      names.emplace_back(name);
    }
  }
  ::closedir(dir);
  return names;
}

// Nanoseconds the threads of process `pid` have spent runnable but waiting for a CPU: the
// second field of each /proc/PID/task/TID/schedstat. Adds the thread's child processes to
// `children` (/proc/PID/task/TID/children), so that process workers are counted too.
bool add_run_delay(const std::string& pid, std::uint64_t& delay_ns,
                   std::vector<std::string>* children) {
  bool any = false;
  const std::string tasks = "/proc/" + pid + "/task";
  for (const auto& tid : numeric_entries(tasks)) {
    std::ifstream in(tasks + "/" + tid + "/schedstat");
    std::uint64_t on_cpu = 0, waiting = 0;
    if (in >> on_cpu >> waiting) {
      delay_ns += waiting;
      any = true;
    }
    if (children != nullptr) {
      std::ifstream list(tasks + "/" + tid + "/children");
      for (std::string child; list >> child;) children->push_back(child);
    }
  }
  return any;
}

// What took the CPUs from a trial: its own threads' and its worker processes' run delay, and
// the machine's steal time. Sampled before and after the batch; the difference is the trial's.
struct CpuWaits {
  std::uint64_t run_delay_ns = 0;
  std::uint64_t steal_ticks = 0;
  bool known = false;  // schedstat could be read (CONFIG_SCHEDSTATS; Linux only)

  static CpuWaits sample() {
    CpuWaits w;
    std::vector<std::string> children;
    w.known = add_run_delay(std::to_string(::getpid()), w.run_delay_ns, &children);
    for (const auto& child : children) add_run_delay(child, w.run_delay_ns, nullptr);
    // /proc/stat's first line: cpu user nice system idle iowait irq softirq steal ...
    std::ifstream stat("/proc/stat");
    std::string label;
    std::uint64_t field[8] = {};
    if (stat >> label && label == "cpu") {
      for (auto& f : field) stat >> f;
      if (stat) w.steal_ticks = field[7];
    }
    return w;
  }
};

// A trial waited for the CPUs when it had no reason to: at most one runnable thread a usable
// core, yet its threads waited more than this share of the CPU time they used; and more than
// kDisturbedFloor_s and kDisturbedWallShare of its wall time, so that neither a tiny trial's
// scheduling jitter nor a few milliseconds of late wake-ups in a trial that mostly sleeps (its
// CPU time is small) count: neither moves the wall time by as much as 1 %.
constexpr double kDisturbedShare = 0.05;
constexpr double kDisturbedFloor_s = 0.002;
constexpr double kDisturbedWallShare = 0.01;

}  // namespace

bool disturbed(const Trial& t, int usable_cores) {
  if (t.workers > usable_cores) return false;  // then waiting for a CPU is the model's own doing
  const double waited = t.run_delay_s + t.steal_s;
  return waited > kDisturbedFloor_s && waited > kDisturbedShare * (t.user_s + t.sys_s) &&
         waited > kDisturbedWallShare * t.wall_s;
}

Trial unrun_trial(const std::string& workload, const std::string& model, int workers, int repeat,
                  std::size_t tasks) {
  Trial trial;
  trial.workload = workload;
  trial.model = model;
  trial.workers = workers;
  trial.repeat = repeat;
  trial.tasks = tasks;
  return trial;
}

std::string point_text(const nlohmann::json& point) {
  std::string out;
  if (!point.is_object() || point.empty()) return out;  // no scan: no declarations to read
  const std::vector<DeclaredParam> declared = declared_params();
  for (const auto& [key, value] : point.items()) {
    // A plug-in's parameter as its flag would take it: "io-wait=10ms", "cpu-work=5ms".
    const std::string& field = key;  // clang 14 does not capture a structured binding
    const auto it = std::find_if(declared.begin(), declared.end(),
                                 [&](const DeclaredParam& d) { return d.param.key() == field; });
    if (it != declared.end()) {
      out += fmt::format("{}{}={}", out.empty() ? "" : " ", it->param.name, it->param.text(value));
      continue;
    }
    const bool duration = key.size() > 2 && key.ends_with("_s") && value.is_number();
    out += fmt::format("{}{}={}", out.empty() ? "" : " ",
                       duration ? key.substr(0, key.size() - 2) : key,
                       duration            ? format_duration(value.get<double>())
                       : value.is_string() ? value.get<std::string>()
                                           : value.dump());
  }
  return out;
}

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
      {"cpu_window_s", t.cpu_window_s},
      {"voluntary_ctx", t.voluntary_ctx},
      {"involuntary_ctx", t.involuntary_ctx},
      {"max_rss_kib", t.max_rss_kib},
      {"max_in_flight", t.max_in_flight},
      {"counters", t.counters},
      {"checksum_ok", t.checksum_ok},
      {"error", t.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.error)},
      {"hung", t.hung},
      {"task_duration", t.task_duration.to_json()},
      {"start_delay", t.start_delay.to_json()},
      {"run_delay_s", t.run_delay_s},
      {"steal_s", t.steal_s},
      {"disturbed", t.disturbed},
      {"attempt", t.attempt},
      {"point", t.point},
  };
}

namespace {

// The time the trial's threads waited for a CPU, and the machine's steal, between two samples.
void set_cpu_waits(Trial& trial, const CpuWaits& before, const CpuWaits& after) {
  if (before.known && after.known) {
    trial.run_delay_s = static_cast<double>(after.run_delay_ns -
                                            std::min(after.run_delay_ns, before.run_delay_ns)) *
                        1e-9;
  }
  const long ticks_per_s = ::sysconf(_SC_CLK_TCK);
  if (ticks_per_s > 0 && after.steal_ticks >= before.steal_ticks) {
    trial.steal_s = static_cast<double>(after.steal_ticks - before.steal_ticks) /
                    static_cast<double>(ticks_per_s);
  }
}

// The workload's own machinery (a server thread) is not the tasks': its CPU time over the batch
// comes out of the trial's, and its counts go in the trial's counters.
void take_out_own_usage(ResourceUsage& usage, const Workload::OwnUsage& before,
                        const Workload::OwnUsage& after, std::map<std::string, double>& counters) {
  usage.user_s = std::max(0.0, usage.user_s - (after.user_s - before.user_s));
  usage.sys_s = std::max(0.0, usage.sys_s - (after.sys_s - before.sys_s));
  for (const auto& [name, value] : after.counts) {
    const auto was = before.counts.find(name);
    counters[name] = value - (was == before.counts.end() ? 0.0 : was->second);
  }
}

}  // namespace

Trial run_trial(const Workload& workload, const Model& model, const std::string& model_name,
                int workers, int repeat, std::size_t tasks,
                const std::vector<std::uint64_t>& expected, const ModelOptions& options,
                const RunControl& control) {
  Trial trial = unrun_trial(workload.spec().name, model_name, workers, repeat, tasks);
  try {
    workload.prepare();           // a user's module is imported here, before the clock
    ResourceUsage::reset_peak();  // the peak is this trial's, not the largest so far
    const auto s0 = std::chrono::steady_clock::now();
    const auto pool = model.start(workload, workers, options);
    trial.startup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - s0).count();
    const CpuWaits waits_before = CpuWaits::sample();
    const ResourceUsage before = ResourceUsage::of_self();
    const Workload::OwnUsage own_before = workload.own_usage();
    const auto window_start = std::chrono::steady_clock::now();
    const BatchResult batch = pool->run(tasks, control);
    // The CPU time is what was used between these two samples, so cpu_util divides it by the
    // time between them, not by the batch's wall time (first dispatch to last result), which
    // leaves out the waking and parking of the workers that the CPU time includes.
    trial.cpu_window_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - window_start).count();
    ResourceUsage usage = ResourceUsage::of_self().since(before);
    take_out_own_usage(usage, own_before, workload.own_usage(), trial.counters);
    const CpuWaits waits_after = CpuWaits::sample();
    if (batch.has_worker_usage) usage += batch.worker_usage;
    set_cpu_waits(trial, waits_before, waits_after);
    trial.wall_s = batch.wall_s;
    trial.user_s = usage.user_s;
    trial.sys_s = usage.sys_s;
    trial.voluntary_ctx = usage.voluntary_ctx;
    trial.involuntary_ctx = usage.involuntary_ctx;
    trial.max_rss_kib = usage.max_rss_kib;
    trial.disturbed = disturbed(trial, usable_cores());
    trial.counters.insert(batch.counters.begin(), batch.counters.end());
    record_tasks(trial, batch, control.keep_spans);
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
    // A workload's resolved loop iterations and wait, where it has them.
    const double task_s =
        std::chrono::duration<double>(workload.params.duration("io_wait_s")).count() +
        static_cast<double>(workload.params.count("cpu_iters")) / kSlowIters_per_s;
    expected_s = static_cast<double>(tasks) * task_s;
  }
  // Capped at a year, so that the conversion to nanoseconds cannot overflow.
  const double limit_s = std::min(std::max(kFloor_s, kMargin * expected_s), 365.0 * 86400);
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(limit_s));
}

namespace {

// One run of a plan: run_sweep's state, and a method per step.
class SweepRunner {
 public:
  SweepRunner(const Plan& plan, const RunObserver& observer)
      : plan_(plan),
        observer_(observer),
        expected_(plan.workloads.size()),
        unusable_(plan.workloads.size()),
        serial_s_(plan.workloads.size()),
        one_worker_s_(plan.workloads.size()) {
    // The workloads are built here, in the driver: their constructors run no user code (a
    // user's module is imported by prepare(), in the process that runs its tasks).
    for (const auto& w : plan.workloads) workloads_.push_back(make_workload(w.spec));
    for (const auto& planned : plan.trials) {
      if (!models_.contains(planned.model)) models_[planned.model] = make_model(planned.model);
    }
  }

  RunResult run() {
    result_.trials.reserve(plan_.counted());
    total_ = plan_.trials.size();
    if (!reference_checksums()) return std::move(result_);
    for (const auto& planned : plan_.trials) {
      if (!unusable_[planned.workload].empty()) {
        record_unrun(planned);
        continue;
      }
      if (!run_planned(planned)) break;
    }
    return std::move(result_);
  }

 private:
  void note(const std::string& text) const {
    if (observer_.on_note) observer_.on_note(text);
  }
  void phase(const std::string& text) const {
    if (observer_.on_phase) observer_.on_phase(text);
  }
  void stopped(std::string reason) {
    result_.end = RunEnd::stopped;
    result_.reason = std::move(reason);
  }
  // The hung trial's abandoned threads may still call into its workload, and would into a
  // destroyed one: then every workload is deliberately kept until the process exits.
  void keep_workloads() {
    for (auto& workload : workloads_) SCALELAB_LSAN_IGNORE(workload.release());
  }
  std::chrono::nanoseconds timeout(std::size_t w, const std::vector<double>& measured) const {
    return plan_.trial_timeout.count() > 0
               ? plan_.trial_timeout
               : default_trial_timeout(plan_.workloads[w].spec, plan_.workloads[w].tasks, measured);
  }
  std::string label(const PlannedTrial& p) const {
    const PlannedWorkload& w = plan_.workloads.at(p.workload);
    const std::string point = point_text(trial_point(plan_, p));
    return fmt::format("{}{}{} {} workers={} {}", w.spec.name, point.empty() ? "" : " ", point,
                       p.model, p.workers,
                       p.warmup() ? "warm-up" : fmt::format("repeat {}", p.repeat + 1));
  }

  // Reference checksums. Those of user code come from a pass in a process of its own, under
  // the trial timeout: its crash, exit or hang costs that workload's trials, not the run.
  // False when a stop ended the run meanwhile.
  bool reference_checksums() {
    phase("reference checksums");
    for (std::size_t w = 0; w < workloads_.size(); ++w) {
      const std::string& name = plan_.workloads[w].spec.name;
      const std::size_t tasks = plan_.workloads[w].tasks;
      if (observer_.stop.stop_requested()) {
        stopped(fmt::format("stopped before the reference checksums of {}", name));
        return false;
      }
      if (!workloads_[w]->runs_user_code()) {
        expected_[w].resize(tasks);
        for (std::size_t i = 0; i < tasks; ++i) {
          expected_[w][i] = workloads_[w]->expected_checksum(i);
        }
        continue;
      }
      phase(fmt::format("reference checksums of {}", name));
      detail::ReferencePass pass =
          detail::isolated_reference_pass(*workloads_[w], tasks, timeout(w, {}), observer_.stop);
      if (pass.stopped) {
        stopped(fmt::format("stopped: {}: {}", name, pass.failure));
        return false;
      }
      if (!pass.raised.empty()) note(fmt::format("{}: {}", name, pass.raised));
      if (!pass.failure.empty()) {
        unusable_[w] = pass.failure;
        note(fmt::format("{}: {}; its trials are not run", name, pass.failure));
      }
      expected_[w] = std::move(pass.checksums);
    }
    return true;
  }

  // No reference values, so nothing could be checked: on record as failed, not run.
  void record_unrun(const PlannedTrial& planned) {
    if (planned.warmup()) {
      --total_;
      return;
    }
    const PlannedWorkload& w = plan_.workloads[planned.workload];
    Trial trial = unrun_trial(w.spec.name, planned.model, planned.workers, planned.repeat, w.tasks);
    trial.point = trial_point(plan_, planned);
    trial.error = fmt::format("not run: no reference checksums: {}", unusable_[planned.workload]);
    ++result_.trials_run;
    if (observer_.on_trial) observer_.on_trial(trial, result_.trials_run, total_);
    result_.trials.push_back(std::move(trial));
  }

  Trial attempt(const PlannedTrial& planned, int number) const {
    const std::size_t w = planned.workload;
    RunControl control;
    control.stop = observer_.stop;
    control.timeout = timeout(w, serial_s_[w].empty() ? one_worker_s_[w] : serial_s_[w]);
    const Workload& workload = *workloads_.at(w);
    const Model& model = *models_.at(planned.model);
    const std::size_t tasks = plan_.workloads[w].tasks;
    const ModelOptions options = trial_options(plan_, planned);
    Trial trial =
        workload.runs_user_code()
            ? detail::run_trial_isolated(workload, model, planned.model, planned.workers,
                                         planned.repeat, tasks, expected_[w], options, control)
            : run_trial(workload, model, planned.model, planned.workers, planned.repeat, tasks,
                        expected_[w], options, control);
    trial.attempt = number;
    trial.point = trial_point(plan_, planned);
    return trial;
  }

  // Runs a planned trial, again while it is disturbed (up to Plan::rerun_disturbed times).
  // False when the run must end: a stop, or a hung trial.
  bool run_planned(const PlannedTrial& planned) {
    const std::size_t w = planned.workload;
    for (int number = 0;; ++number) {
      if (observer_.stop.stop_requested()) {
        stopped(fmt::format("stopped before the {} trial", label(planned)));
        return false;
      }
      phase(fmt::format("the {} trial", label(planned)));
      Trial trial = attempt(planned, number);
      if (trial.failed() && observer_.stop.stop_requested()) {
        // Cut short by the stop, it measured nothing and failed through no fault of the model.
        stopped(fmt::format("stopped: the {} trial was interrupted and is not recorded",
                            label(planned)));
        if (trial.hung) {
          // Threads that did not honour the stop: abandoned, still running the workload.
          result_.abandoned = true;
          result_.reason += fmt::format(" ({})", trial.error);
          keep_workloads();
        }
        return false;
      }
      ++result_.trials_run;
      if (!trial.failed() && !trial.disturbed) {
        if (planned.model == "serial") serial_s_[w].push_back(trial.wall_s);
        if (planned.workers == 1) one_worker_s_[w].push_back(trial.wall_s);
      }
      const bool rerun = trial.disturbed && !trial.failed() && number < plan_.rerun_disturbed;
      if (rerun) ++total_;
      if (observer_.on_trial) observer_.on_trial(trial, result_.trials_run, total_);
      const bool hung = trial.hung;
      if (hung) result_.reason = fmt::format("hung: {}: {}", label(planned), trial.error);
      if (!trial.warmup()) result_.trials.push_back(std::move(trial));
      if (hung) {
        result_.end = RunEnd::hung;
        keep_workloads();
        return false;
      }
      if (!rerun) return true;
      note(fmt::format("{} was disturbed (another process took its CPUs): running it again",
                       label(planned)));
    }
  }

  const Plan& plan_;
  const RunObserver& observer_;
  std::vector<std::unique_ptr<Workload>> workloads_;
  std::map<std::string, std::unique_ptr<Model>> models_;
  std::vector<std::vector<std::uint64_t>> expected_;
  std::vector<std::string> unusable_;
  // Per workload, the wall times of its passed serial and 1-worker trials so far: what a batch
  // of it takes, for the derived timeout.
  std::vector<std::vector<double>> serial_s_, one_worker_s_;
  std::size_t total_ = 0;  // trials to run: grows by one for each rerun
  RunResult result_;
};

}  // namespace

RunResult run_sweep(const Plan& plan, const RunObserver& observer) {
  return SweepRunner(plan, observer).run();
}

std::vector<Trial> run_plan(const Plan& plan, const RunObserver& observer) {
  return run_sweep(plan, observer).trials;
}

}  // namespace scalelab
