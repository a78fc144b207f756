#pragma once
/// \file model.hpp
/// How tasks run concurrently. A Model starts a Pool (threads, processes, an event loop)
/// before the clock; the Pool then runs a batch of tasks and reports what happened.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "scalelab/params.hpp"
#include "scalelab/registry.hpp"
#include "scalelab/workload.hpp"

namespace scalelab {

/// CPU time, context switches and peak memory, as getrusage(2) reports them.
struct ResourceUsage {
  double user_s = 0;                 ///< user CPU seconds
  double sys_s = 0;                  ///< system CPU seconds
  std::int64_t voluntary_ctx = 0;    ///< voluntary context switches (waiting)
  std::int64_t involuntary_ctx = 0;  ///< involuntary context switches (preemption)
  std::int64_t max_rss_kib = 0;      ///< peak resident set size, KiB

  /// Usage of the calling process so far (RUSAGE_SELF: every thread of it).
  static ResourceUsage of_self();
  /// Restarts the calling process's peak-RSS count at its current size (Linux
  /// /proc/self/clear_refs), so the next of_self() reports the peak since this call rather
  /// than since the process began. Harmless where unsupported.
  static void reset_peak();
  /// Counters of `*this` minus those of `before`; max_rss_kib is kept as the later peak.
  ResourceUsage since(const ResourceUsage& before) const;
  /// Adds counters and peaks (peaks of separate processes add up: they coexist).
  ResourceUsage& operator+=(const ResourceUsage& other);
};

/// What a task threw, as text; empty when it returned. One pointer wide, since a batch of a
/// million tasks holds a million of them and almost all are empty.
class TaskError {
 public:
  TaskError() = default;
  TaskError(const TaskError& other)
      : text_(other.text_ ? std::make_unique<std::string>(*other.text_) : nullptr) {}
  TaskError(TaskError&&) noexcept = default;
  TaskError& operator=(const TaskError& other) {
    if (this != &other) text_ = other.text_ ? std::make_unique<std::string>(*other.text_) : nullptr;
    return *this;
  }
  TaskError& operator=(TaskError&&) noexcept = default;
  ~TaskError() = default;
  /// Sets the text; an empty text clears it.
  TaskError& operator=(std::string text) {
    text_ = text.empty() ? nullptr : std::make_unique<std::string>(std::move(text));
    return *this;
  }
  bool empty() const noexcept { return !text_; }
  /// The text; empty when the task returned.
  const std::string& str() const noexcept { return text_ ? *text_ : none(); }
  friend bool operator==(const TaskError& e, std::string_view text) { return e.str() == text; }
  /// Writes the text (a plain function, not a template: a template would be as good a match as
  /// every other stream-like type's own template, and ambiguous with it).
  friend std::ostream& operator<<(std::ostream& out, const TaskError& e);

 private:
  static const std::string& none() noexcept {
    static const std::string empty;
    return empty;
  }
  std::unique_ptr<std::string> text_;
};

/// What happened to one task.
struct TaskResult {
  std::uint64_t checksum = 0;  ///< the value the task returned
  double start_s = 0;          ///< start, seconds after the batch's clock started
  double end_s = 0;            ///< end, seconds after the batch's clock started
  std::uint32_t runs = 0;      ///< how many times the task ran (must be exactly 1)
  TaskError error{};           ///< what the task threw, empty if it returned
};

/// What a pool reports for one batch.
struct BatchResult {
  std::vector<TaskResult> tasks;  ///< indexed by task number
  double wall_s = 0;              ///< from the first dispatch to the last result (steady clock)
  ResourceUsage worker_usage;     ///< workers outside this process (processes model), summed
  bool has_worker_usage = false;  ///< whether worker_usage holds anything
  int max_in_flight = 0;          ///< most tasks running at once, as the pool observed it
  /// Model-specific measurements, e.g. "gil_switches", "gil_wait_s".
  std::map<std::string, double> counters;
};

/// What a model is started with: the values of the parameters models declare (each model reads
/// its own), and where a spawned worker's program is.
struct ModelOptions {
  /// Parameter values by field, e.g. {"start_method": "spawn", "switch_interval_s": 0.005}; a
  /// model reads the ones it declared, with their defaults when absent.
  ParamValues params{};
  /// processes/spawn: the program to exec in worker mode; empty means this program
  /// (/proc/self/exe), whose main must call scalelab::maybe_run_worker first.
  std::string worker_executable;
};

/// Limits on one batch: how long it may take, and a request to end it early.
struct RunControl {
  /// Longest the batch may run, from the call to Pool::run; zero or less: no limit.
  std::chrono::nanoseconds timeout{0};
  /// A stop request (Ctrl-C): the batch ends early and Pool::run throws BatchAborted
  /// (interrupted). Threads finish their tasks in flight first; processes are killed; async
  /// tasks are cancelled.
  std::stop_token stop;
  /// After the timeout (or a stop), how long tasks in flight get to finish or honour their
  /// cancellation before they count as hung.
  std::chrono::nanoseconds grace = std::chrono::milliseconds(500);
  /// Keep every task's span in the trial (`--spans full`), not only its histograms.
  bool keep_spans = false;
};

/// Why a batch ended before every task did.
enum class AbortReason {
  timed_out,    ///< the timeout passed; every task in flight was stopped (killed, cancelled)
  interrupted,  ///< a stop was requested; every task in flight finished or was stopped
  hung,         ///< tasks could not be stopped (threads): they still run, detached
};

/// Thrown by Pool::run when a batch is cut short. The message is one line for Trial::error.
class BatchAborted : public std::runtime_error {
 public:
  /// `what` is the whole message, e.g. "timed out after 2s: task 5 still running (worker 1)".
  BatchAborted(AbortReason reason, const std::string& what)
      : std::runtime_error(what), reason_(reason) {}
  /// Why the batch ended early.
  AbortReason reason() const noexcept { return reason_; }

 private:
  AbortReason reason_;
};

/// Started workers, ready to run batches. Not thread-safe: one batch at a time.
class Pool {
 public:
  virtual ~Pool() = default;
  /// Runs tasks 0..tasks-1 and returns their results. Throws BatchAborted when `control` cuts
  /// the batch short, and std::exception when the pool itself fails (a worker died, a system
  /// call failed); a task's own exception is recorded in its TaskResult instead. After a throw
  /// the pool may only be destroyed; its destructor never waits for a hung task (such threads
  /// are detached and keep using the workload, which must then live until the process exits).
  virtual BatchResult run(std::size_t tasks, const RunControl& control) = 0;
  /// Runs a batch with no time limit and no stop request.
  BatchResult run(std::size_t tasks) { return run(tasks, RunControl{}); }
};

/// One way of running tasks concurrently. Implementations are stateless and thread-safe.
class Model {
 public:
  virtual ~Model() = default;
  /// Whether the worker count means anything (serial: no).
  virtual bool uses_workers() const { return true; }
  /// How many tasks' CPU work can run at once with `workers` workers, before the machine's
  /// cores limit it: W for a pool of threads or processes, 1 for serial, for one event loop
  /// (async) and under a GIL. Used to estimate a plan's run time, never to measure.
  virtual int cpu_parallelism(int workers) const { return uses_workers() ? workers : 1; }
  /// Whether its workers are processes of their own, each with its own interpreter lock
  /// (WorkloadEntry::one_core_per_process does not hold them back).
  virtual bool separate_processes() const { return false; }
  /// Why this model cannot run `workload` (py-threads runs Python tasks only), or "" when it can.
  virtual std::string cannot_run(const Workload& workload) const {
    (void)workload;
    return {};
  }
  /// Starts and warms `workers` workers for `workload` (the workload outlives the pool).
  /// Throws std::exception when they cannot be started.
  virtual std::unique_ptr<Pool> start(const Workload& workload, int workers,
                                      const ModelOptions& options) const = 0;
};

/// Builds a model.
using ModelFactory = std::function<std::unique_ptr<Model>()>;

/// A model as it is registered, in its own file.
struct ModelEntry {
  std::string name;     ///< what the user types
  std::string summary;  ///< one line for `scalelab list`
  ModelFactory make;    ///< builds it
  /// The parameters it takes (see WorkloadEntry::params); their values reach Model::start in
  /// ModelOptions::params.
  std::vector<Param> params{};
};

/// The models known by name. Built-ins are registered on first use.
Registry<ModelEntry>& model_registry();

/// Why `name` is a built-in model this build left out ("oneTBB was not found when scalelab was
/// built (Debian: libtbb-dev)"), or "" when it is not one.
std::string left_out_of_build(const std::string& name);

/// Throws Error unless `name` is a registered model: naming why when this build left it out,
/// else listing the known names.
void check_model_name(const std::string& name);

/// Builds the model called `name`; throws Error as check_model_name does if none is.
std::unique_ptr<Model> make_model(const std::string& name);

/// Why the model called `model` cannot run `workload`: the workload's reason
/// (Workload::unsupported_by) or the model's (Model::cannot_run); "" when it can, or when no
/// model has that name.
std::string unsupported(const Workload& workload, const std::string& model);

/// For programs that use the processes model with `--start-method spawn` (the parameter
/// "start_method": "spawn"): call first in main().
/// When this process was exec'd as a scalelab worker it runs the worker and returns its exit
/// code; otherwise it returns nothing and main carries on.
std::optional<int> maybe_run_worker(int argc, char** argv);

}  // namespace scalelab
