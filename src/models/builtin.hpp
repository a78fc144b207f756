#pragma once
// The built-in models' factories, one per file in src/models/, and helpers they share.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <limits>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "scalelab/model.hpp"
#include "support/limits.hpp"

namespace scalelab::detail {

/// The built-in models, one per file in src/models/ (model_serial(), model_threads(), …), in
/// the order of SCALELAB_MODELS in CMakeLists.txt; the list is generated from it.
std::vector<ModelEntry> builtin_models();

/// The built-in models this build left out, each with why: {"tbb", "oneTBB was not found …"}.
std::vector<std::pair<std::string, std::string>> left_out_models();

/// `--start-method fork|spawn`, declared once for processes and py-processes (processes.cpp).
Param start_method_param();

/// Seconds from `t0` to `t`.
inline double seconds_since(std::chrono::steady_clock::time_point t0,
                            std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(t - t0).count();
}

/// Throws Error unless workers >= 1 (a pool of none would never run a task).
void check_workers(int workers);

/// Runs one task on the calling thread, recording its checksum, times and any exception.
void run_task_blocking(const Workload& workload, std::size_t task, TaskResult& result,
                       std::chrono::steady_clock::time_point t0);

/// What the exception being handled says, for TaskResult::error; call inside a catch block.
/// Running out of memory names the limit that bit, or the ones checked: "std::bad_alloc (out of
/// memory; RLIMIT_AS = 384.0 MiB and this process mapped up to 380.2 MiB)".
std::string current_exception_text();

/// The system's text for an errno value: "Too many open files".
std::string errno_text(int err);

/// The system's reason for `err` when `what` could not be had, and the limit that bit, read
/// live (limit_reason): "Resource temporarily unavailable (kernel.pid_max = 32768 and 32700
/// process IDs are in use)", "Too many open files (RLIMIT_NOFILE = 64 and 64 descriptors are
/// open)". Call it before releasing what was had, so that the usage read is what failed.
std::string resource_error_text(Want what, int err);

/// "killed by SIGSEGV", "exited with code 3": how a process ended, from waitpid's status.
std::string describe_status(int status);

/// "task 3", "tasks 3, 5, 9", or the first few and how many more.
std::string task_list(const std::vector<std::size_t>& tasks);

/// `t` + `d`, or time_point::max() where that would overflow (a deadline far away is none).
inline std::chrono::steady_clock::time_point later(std::chrono::steady_clock::time_point t,
                                                   std::chrono::nanoseconds d) {
  using Clock = std::chrono::steady_clock;
  if (t == Clock::time_point::max() || d > Clock::time_point::max() - t) {
    return Clock::time_point::max();
  }
  return t + std::chrono::duration_cast<Clock::duration>(d);
}

/// When a batch that began at `start` must end: time_point::max() when it has no timeout.
inline std::chrono::steady_clock::time_point deadline_of(
    const RunControl& control, std::chrono::steady_clock::time_point start) {
  if (control.timeout.count() <= 0) return std::chrono::steady_clock::time_point::max();
  return later(start, control.timeout);
}

/// Waits on `cv` until `done()`, a stop request on `stop`, or `deadline` (max(): none).
/// Returns done(). (A deadline of max() is not passed to wait_until, whose clock conversion
/// could overflow.)
template <class Done>
bool wait_until_done(std::condition_variable_any& cv, std::unique_lock<std::mutex>& lock,
                     std::stop_token stop, std::chrono::steady_clock::time_point deadline,
                     Done done) {
  if (deadline == std::chrono::steady_clock::time_point::max()) {
    return cv.wait(lock, std::move(stop), std::move(done));
  }
  return cv.wait_until(lock, std::move(stop), deadline, std::move(done));
}

/// A batch cut short (Pool::run's timeout or stop request), as a pool of threads saw it once
/// the grace period was over.
struct CutShort {
  CutShort(const RunControl& c, std::chrono::steady_clock::time_point start)
      : control(c), started(start) {}

  const RunControl& control;
  std::chrono::steady_clock::time_point started;  ///< when Pool::run began
  bool stopped = false;                           ///< by a stop request, before the deadline
  bool hung = false;                 ///< tasks were still running after the grace period
  std::vector<std::size_t> running;  ///< hung: those tasks (empty: not known)
  std::size_t ran = 0;               ///< not hung: the tasks that ran
  std::size_t tasks = 0;             ///< the batch's tasks
  /// Not hung: what the workers did, "the threads finished their tasks in flight and took no
  /// more".
  const char* how = "";
  /// Hung: why the tasks could not be stopped.
  const char* why_hung = "threads cannot be stopped safely";
};

/// Throws the BatchAborted that says how `c`'s batch ended: hung (threads cannot be stopped
/// safely), interrupted or timed out.
[[noreturn]] void throw_cut_short(const CutShort& c);

/// A worker's "current task" when it is between tasks.
inline constexpr std::size_t kNoTask = std::numeric_limits<std::size_t>::max();

/// The task one worker thread is running (kNoTask between tasks); on its own cache line, since
/// its thread writes it at every task.
struct alignas(64) TaskSlot {
  std::atomic<std::size_t> task{kNoTask};
};

/// The tasks `slots` show running, in order: what a hung batch names.
std::vector<std::size_t> running_tasks(const std::vector<TaskSlot>& slots);

/// The end of a batch of threads cut short (its deadline passed or a stop was requested), for a
/// pool whose tasks cannot be stopped: `quit` is set so that no task starts, the tasks in flight
/// get control.grace to end (`idle()`, under `lock`, signalled on `done`), then BatchAborted is
/// thrown. Hung (and `hung` set) naming the tasks `slots` show running when they did not end;
/// else interrupted or timed out, saying how many of `results` ran and `how`.
template <class Idle>
[[noreturn]] void abandon_batch(std::unique_lock<std::mutex>& lock,
                                std::condition_variable_any& done, Idle idle,
                                std::atomic<bool>& quit, const std::vector<TaskSlot>& slots,
                                const std::vector<TaskResult>& results, const RunControl& control,
                                std::chrono::steady_clock::time_point started,
                                std::chrono::steady_clock::time_point deadline, const char* how,
                                bool& hung) {
  using Clock = std::chrono::steady_clock;
  quit.store(true, std::memory_order_relaxed);
  CutShort c{control, started};
  c.stopped = control.stop.stop_requested() && Clock::now() < deadline;
  if (!wait_until_done(done, lock, {}, later(Clock::now(), control.grace), idle)) {
    hung = c.hung = true;
    c.running = running_tasks(slots);
    throw_cut_short(c);
  }
  // Every worker is idle again: the results are safe to read.
  for (const auto& r : results) c.ran += r.runs > 0 ? 1 : 0;
  c.tasks = results.size();
  c.how = how;
  throw_cut_short(c);
}

/// A batch's result from its tasks' results: the clock stops when the last task ends, not when
/// the pool's caller wakes to notice it.
inline BatchResult batch_of(std::vector<TaskResult> tasks) {
  BatchResult batch;
  batch.tasks = std::move(tasks);
  for (const auto& t : batch.tasks) batch.wall_s = std::max(batch.wall_s, t.end_s);
  return batch;
}

}  // namespace scalelab::detail
