#pragma once
/// \file trial.hpp
/// One trial's measurements, and running trials.

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <stop_token>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scalelab/histogram.hpp"
#include "scalelab/model.hpp"
#include "scalelab/plan.hpp"

namespace scalelab {

/// What one (workload, model, workers, repeat) measured.
struct Trial {
  std::string workload;        ///< workload name
  std::string model;           ///< model name
  int workers = 1;             ///< worker count
  int repeat = 0;              ///< 0-based; -1 for a warm-up
  std::size_t tasks = 0;       ///< tasks asked for
  std::size_t tasks_done = 0;  ///< tasks that ran exactly once and returned
  double wall_s = 0;           ///< first dispatch to last result, steady clock
  /// The interval user_s and sys_s were measured over (just before the batch is handed to the
  /// pool to just after its results are back): a little longer than wall_s, never shorter.
  double cpu_window_s = 0;
  double startup_s = 0;              ///< starting and warming the pool (not in wall_s)
  double user_s = 0;                 ///< user CPU, this process + process workers
  double sys_s = 0;                  ///< system CPU, this process + process workers
  std::int64_t voluntary_ctx = 0;    ///< voluntary context switches, likewise
  std::int64_t involuntary_ctx = 0;  ///< involuntary context switches, likewise
  std::int64_t max_rss_kib = 0;      ///< peak RSS of this process (+ each process worker's peak)
  int max_in_flight = 0;             ///< most tasks running at once
  std::map<std::string, double> counters;  ///< the model's own, e.g. gil_switches, gil_wait_s
  bool checksum_ok = false;                ///< every task ran once and returned the serial checksum
  std::string error;                       ///< why the trial failed; empty if it did not
  /// Tasks could not be stopped at the timeout (threads, gil, serial; async when CPU work
  /// blocks its loop): they still run, abandoned, so the runner must stop the sweep and the
  /// process should exit soon. Such a trial has failed, too.
  bool hung = false;
  /// Each task's duration and start delay (histogram.hpp), whatever the task count: a few
  /// hundred bytes of the trial's record.
  LatencyHistogram task_duration{};
  LatencyHistogram start_delay{};
  /// Every task's start and end, seconds after the clock started: only when the run keeps
  /// spans (`--spans full`), and then recorded in the run's spans file, not in its trial lines.
  /// Records from before issue 14 carry them in the trial line.
  std::vector<double> task_start_s;
  std::vector<double> task_end_s;
  /// Seconds the trial's own threads and worker processes were runnable but waited for a CPU
  /// over the batch (Linux schedstat, summed over every thread); 0 where unknown.
  double run_delay_s = 0;
  /// The machine's steal time over the batch (/proc/stat), CPU seconds; 0 where unknown.
  double steal_s = 0;
  /// Another process took the CPUs this trial needed: W ≤ usable cores and run_delay_s (or
  /// steal_s) above a few percent of the trial's CPU time. Analysis prefers undisturbed trials.
  bool disturbed = false;
  /// 0 for the first run of a planned trial; 1, 2, … for its reruns after a disturbed attempt
  /// (every attempt is on record, each with the same workload, model, workers and repeat).
  int attempt = 0;
  /// The values that tell this trial's point apart from others of the same workload, model
  /// and workers (a granularity sweep's {"task_s": 0.001}); an empty object when none do.
  nlohmann::json point = nlohmann::json::object();

  bool failed() const { return !error.empty(); }  ///< whether the trial failed
  bool warmup() const { return repeat < 0; }      ///< an uncounted warm-up trial
  /// (user + sys) / the interval they were measured over (cpu_window_s; wall_s in records
  /// from before it existed): how many cores were busy on average.
  double cpu_util() const {
    const double window = cpu_window_s > 0 ? cpu_window_s : wall_s;
    return window > 0 ? (user_s + sys_s) / window : 0;
  }
};

/// A trial's point as text for messages: a plug-in's parameter as its flag takes it
/// ({"io_wait_s": 0.01} reads "io-wait=10ms"), any other duration (a field ending in "_s") in
/// its own words ({"task_s": 0.001} reads "task=1ms"); empty for an empty point.
std::string point_text(const nlohmann::json& point);

/// Whether another process took the CPUs `t` needed: at most one worker a usable core, yet its
/// threads waited for a CPU (run_delay_s + steal_s) more than 5 % of the CPU time they used,
/// more than 1 % of the wall time and more than 2 ms.
bool disturbed(const Trial& t, int usable_cores);

/// Loads `workload`'s code (Workload::prepare) in a process of its own, within `timeout`, so
/// that user code that cannot load is bad input before a run starts, without ever running in
/// this process. Throws Error with one line when it cannot load ("--python-func: cannot import
/// module 'tasks': ModuleNotFoundError: …", or how loading ended its process). Returns quietly
/// when `stop` was requested meanwhile.
void check_loads(const Workload& workload, std::chrono::nanoseconds timeout,
                 std::stop_token stop = {});

/// A trial that has not run yet: who it is, nothing measured.
Trial unrun_trial(const std::string& workload, const std::string& model, int workers, int repeat,
                  std::size_t tasks);

/// The trial as one JSON object (the records' line format).
nlohmann::json to_json(const Trial& trial);

/// Runs one trial: starts the pool (timed apart), runs the batch under `control` (timeout,
/// stop request), measures, checks every task against `expected` (the serial checksums).
/// Never throws for a failure of the trial itself: that is recorded in Trial::error (and
/// Trial::hung). A pool that fails (a worker died, a timeout) is torn down with every worker
/// reaped before this returns; the next trial starts a fresh one.
Trial run_trial(const Workload& workload, const Model& model, const std::string& model_name,
                int workers, int repeat, std::size_t tasks,
                const std::vector<std::uint64_t>& expected, const ModelOptions& options,
                const RunControl& control = {});

/// The timeout a trial gets when Spec::trial_timeout is 0: max(60 s, 10 × the expected serial
/// batch time). That is the median of `serial_wall_s` (this workload's serial or 1-worker
/// trials measured so far in this run) when there are any, else an estimate from the spec
/// (`tasks` × each task's waits and CPU iterations, the latter at a conservative 10 M
/// iterations/s); a workload the estimate knows nothing of gets 60 s.
std::chrono::nanoseconds default_trial_timeout(const WorkloadSpec& workload, std::size_t tasks,
                                               const std::vector<double>& serial_wall_s);

/// One line for --help on --trial-timeout's default.
inline constexpr const char* kTrialTimeoutHelp =
    "per-trial limit on the batch; default (or 'auto') max(60s, 10 x the workload's serial "
    "batch time). On "
    "expiry process workers are killed and async tasks cancelled (the trial fails); threads "
    "cannot be stopped, so a hung thread ends the run (exit 1)";

/// Called as the runner goes: after each trial (warm-ups included); and how to stop it.
struct RunObserver {
  /// `total` counts the reruns of disturbed trials decided so far.
  std::function<void(const Trial&, std::size_t done, std::size_t total)> on_trial;
  /// What the run is doing now, when that changes: "reference checksums of python", "the cpu
  /// threads workers=2 repeat 1 trial", "analysis".
  std::function<void(const std::string&)> on_phase;
  /// A line worth telling the user: a reference pass that failed, a disturbed trial rerun.
  std::function<void(const std::string&)> on_note;
  /// A stop request (Ctrl-C): the trial in flight ends early (see RunResult) and no other
  /// starts. Thread-safe to request from anywhere (a signal-watching thread, say).
  std::stop_token stop;
};

/// How a run ended.
enum class RunEnd {
  completed,  ///< every trial of the plan ran
  stopped,    ///< a stop was requested; the trial in flight, unless it finished, is dropped
  hung,       ///< a trial hung (Trial::hung): recorded, and the run ended after it
};

/// What run_sweep returns.
struct RunResult {
  std::vector<Trial> trials;       ///< the counted trials that finished, in the order they ran
  RunEnd end = RunEnd::completed;  ///< why the run ended
  /// One line when end is not completed, e.g. "stopped: the cpu threads workers=4 repeat 2
  /// trial was interrupted and is not recorded", "hung: cpu threads workers=4 repeat 1: …".
  std::string reason;
  std::size_t trials_run = 0;  ///< trials that ran to the end, warm-ups included
  /// A stop request found threads that would not stop: they were abandoned, still running
  /// tasks, so the process should exit (std::_Exit) as soon as its files are written.
  bool abandoned = false;
};

/// Runs the trials of `plan` in order, each under Plan::trial_timeout (or
/// default_trial_timeout), until the plan is done, a stop is requested (observer.stop), or a
/// trial hangs. First the reference checksums: a workload that runs user code
/// (Workload::runs_user_code) gets them from a pass in a process of its own, and each of its
/// trials runs in a process of its own (a crash, exit or hang there fails that trial, and the
/// run goes on); a workload whose reference pass failed has each of its counted trials recorded
/// as failed, not run. A disturbed trial is run again up to Plan::rerun_disturbed times, every
/// attempt passed to on_trial and returned. The trial in flight at a stop request is dropped
/// (neither returned nor passed to on_trial) unless it finished anyway; a hung trial is passed
/// to on_trial and returned. After a hung trial (or threads abandoned at a stop) its tasks
/// still run, detached: the workloads are deliberately kept alive until the process exits,
/// which it should do soon (a hung task may never return).
RunResult run_sweep(const Plan& plan, const RunObserver& observer);

/// run_sweep(...).trials: for callers that need only the trials.
std::vector<Trial> run_plan(const Plan& plan, const RunObserver& observer);

}  // namespace scalelab
