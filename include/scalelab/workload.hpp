#pragma once
/// \file workload.hpp
/// What one task does. A workload is described by a serialisable WorkloadSpec (a process
/// worker started by exec rebuilds the workload from it) and run through a Workload object.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "scalelab/async.hpp"
#include "scalelab/params.hpp"
#include "scalelab/registry.hpp"

namespace scalelab {

/// Whether a workload's time goes to computing or to waiting; decides the ideal speedup line.
enum class Bound { cpu, wait, none };

/// A workload's name and its resolved parameters: what its tasks do, with every duration of
/// CPU work already turned into iterations (`cpu_iters`), waits in seconds (`io_wait_s`).
/// Plain value; serialisable to JSON, so a process worker started by exec rebuilds the
/// workload from it, and a resumed run measures the recorded task sizes.
struct WorkloadSpec {
  std::string name;      ///< registered workload name: "cpu", "io", "noop", …
  ParamValues params{};  ///< resolved parameters by field, e.g. {"cpu_iters": 3869275}
  friend bool operator==(const WorkloadSpec&, const WorkloadSpec&) = default;
};

/// {"name": ..., and every parameter field}.
nlohmann::json to_json(const WorkloadSpec& spec);
/// Inverse of to_json; throws Error on a missing or ill-typed name.
WorkloadSpec workload_spec_from_json(const nlohmann::json& json);

/// A task written in Python, as the py-* models hand it to Python's own executors: they call
/// `module.function(task, *args)` in their workers (a spawned worker imports `module` by name).
struct PythonTask {
  std::string module;    ///< importable by name: "scalelab_tasks", or the user's module
  std::string function;  ///< in `module`, possibly dotted ("Tasks.work")
  /// What py-asyncio calls instead (an `async def`, awaited); empty: `function`, whose result is
  /// awaited when it is a coroutine and otherwise runs inline, blocking the loop.
  std::string async_function{};
  nlohmann::json args = nlohmann::json::array();  ///< what follows the task number
};

/// One workload, ready to run tasks. Implementations are immutable after construction, so
/// every member function is thread-safe and may run concurrently for different tasks.
class Workload {
 public:
  virtual ~Workload() = default;

  /// The spec this workload was built from.
  virtual const WorkloadSpec& spec() const = 0;

  /// CPU-bound or waiting-bound, for the ideal speedup line.
  virtual Bound bound() const = 0;

  /// Runs task `task` to completion on the calling thread (serial, threads, processes).
  /// Returns the task's checksum.
  virtual std::uint64_t run(std::size_t task) const = 0;

  /// The awaitable form (async), on `loop`'s thread: CPU work is the same and blocks the event
  /// loop; waiting is `co_await loop.sleep(d)` instead of a sleep. A task that computes calls
  /// loop.update_time() before it sleeps (the loop's clock is read once a turn). The default
  /// runs the blocking form inline.
  virtual Async<std::uint64_t> run_async(std::size_t task, Loop& loop) const;

  /// The checksum serial execution of `task` returns. The default runs the task; workloads
  /// whose value does not depend on the waiting override it to skip the wait.
  virtual std::uint64_t expected_checksum(std::size_t task) const { return run(task); }

  /// Whether tasks run code scalelab did not write (a `--python-func`): such code may crash,
  /// exit or hang its process, so the runner computes its reference checksums and runs its
  /// trials in a process of their own, and never calls it in the driver process.
  virtual bool runs_user_code() const { return false; }
  /// The user's code as they named it, for messages: "--python-func: mod:task".
  virtual std::string user_code() const { return "the " + spec().name + " workload's code"; }

  /// Loads what the tasks need that the constructor left for later (a user's module, whose
  /// import runs the user's code; the socket workload's server): called before each trial's
  /// clock in the process that runs the tasks (a trial's process), and once in each process
  /// worker. Throws Error when it cannot load. run() loads on first use when nobody called
  /// this. Thread-safe; later calls load nothing again (the socket workload closes the
  /// connections its workers kept, so that each trial's workers open their own).
  virtual void prepare() const {}

  /// Why the model called `model` cannot run this workload (e.g. an embedded interpreter under
  /// the emulated-GIL model), or empty when it can.
  virtual std::string unsupported_by(const std::string& model) const {
    (void)model;
    return {};
  }

  /// Its tasks as Python code, for the models that run them in Python's own executors
  /// (py-threads, py-processes, py-asyncio); empty for a workload written in C++.
  virtual std::optional<PythonTask> python_task() const { return std::nullopt; }

  /// Says that `task` began (`running`) or ended, for a model that runs tasks without calling
  /// run() (the py-* models, in Python): a watcher of the tasks (the task board of a trial run
  /// in a process of its own) then names the task that took its process down. Does nothing
  /// unless overridden.
  virtual void mark_task(std::size_t task, bool running) const {
    (void)task;
    (void)running;
  }

  /// What a worker process started by exec needs to rebuild this workload: the spec, unless the
  /// workload shares something of this process with its workers (the socket workload's server,
  /// whose port it adds). Called after prepare().
  virtual WorkloadSpec worker_spec() const { return spec(); }

  /// CPU time and counts of the workload's own machinery in this process that is not its tasks
  /// (the socket workload's server thread), cumulative. A trial takes the batch's share of the
  /// CPU time out of its user_s and sys_s, and records every count's share in Trial::counters.
  struct OwnUsage {
    double user_s = 0;
    double sys_s = 0;
    std::map<std::string, double> counts{};
  };
  virtual OwnUsage own_usage() const { return {}; }

  /// Called by the processes model just before fork(), on the forking thread: a workload with
  /// process-wide state (an embedded interpreter) makes it safe to copy.
  virtual void before_fork() const {}
  /// Called just after fork(), in the parent (`in_child` false) and in the child (true).
  virtual void after_fork(bool in_child) const { (void)in_child; }
};

/// Builds a workload from its spec.
using WorkloadFactory = std::function<std::unique_ptr<Workload>(const WorkloadSpec&)>;

/// The seed's CPU loop: s = (s + i*i) % 1000003 for i < iters, from s = `start`. Returns s.
/// A `cpu` task starts from its task number (mod 1000003), so that every task's checksum
/// differs and a model that mixes tasks up is caught.
std::uint64_t cpu_loop(std::uint64_t iters, std::uint64_t start = 0);

/// Result of turning a CPU-work duration into loop iterations.
struct CpuCalibration {
  double target_s = 0;      ///< the duration asked for
  double iters_per_s = 0;   ///< measured loop speed
  std::uint64_t iters = 0;  ///< iterations chosen: target_s × iters_per_s
  double measured_s = 0;    ///< how long the calibration itself took
};

/// Measures cpu_loop's speed on this machine (best of several ≥ 20 ms runs, so a preempted
/// run does not shrink the task) and sizes a task to last `target`.
CpuCalibration calibrate_cpu(std::chrono::nanoseconds target);

/// Turns CPU work given as a duration into loop iterations, measured on this machine.
using Calibrator = std::function<CpuCalibration(std::chrono::nanoseconds target)>;

/// Iterations for `target` of the workload's own loop: calibrated once per loop per run
/// (calibrations are shared by the workloads whose `loop` is the same) and recorded.
using IterationsFor = std::function<std::uint64_t(std::chrono::nanoseconds target)>;

/// Turns the parameters a user gave (each declared Param's field, defaults filled in) into
/// the workload's resolved WorkloadSpec::params. May throw Error naming a flag.
using WorkloadResolver =
    std::function<ParamValues(const ParamValues& given, const IterationsFor& iterations)>;

/// A workload as it is registered: everything scalelab needs to know about it, in its file.
struct WorkloadEntry {
  std::string name;      ///< what the user types
  std::string summary;   ///< one line for `scalelab list`
  WorkloadFactory make;  ///< builds it from a resolved spec
  /// The parameters it takes: each becomes a flag, a spec field and a report phrase. Several
  /// plug-ins may declare the same parameter (the same name, kind and default): they share it.
  std::vector<Param> params{};
  /// Given → resolved. Without one, every parameter is kept as given, except that a `work`
  /// parameter NAME-work (or NAME) becomes NAME_iters: its iterations, calibrated when given
  /// as a duration.
  WorkloadResolver resolve{};
  /// Measures its loop for IterationsFor; without one, the C++ loop's (calibrate_cpu).
  Calibrator calibrate{};
  /// Which loop `calibrate` measures; workloads with the same loop share one calibration.
  std::string loop = "cpu";
  /// Facts about a runtime it embeds, recorded in every run's environment (see
  /// workload_runtimes); without one, it embeds none.
  std::function<nlohmann::json()> runtime{};
  /// Its CPU work holds a lock of its process (CPython's GIL): within one process, tasks run
  /// their CPU work one at a time whatever the model. Used to estimate a plan's run time.
  bool one_core_per_process = false;
};

/// The workloads known by name. Built-ins are registered on first use.
Registry<WorkloadEntry>& workload_registry();

/// Builds the workload `spec.name` names; throws Error listing the known names if none does.
std::unique_ptr<Workload> make_workload(const WorkloadSpec& spec);

/// The language runtimes the registered workloads embed, by name: today "python" (when built
/// with it): {"version", "library" (the file its C API is in), "linking": "static" | "shared"}.
/// An empty object when none. Recorded in every run's environment: how libpython is linked
/// changes how fast interpreted code runs.
nlohmann::json workload_runtimes();

/// The `--cpu-work` parameter, declared once and shared by the workloads that run the seed's
/// loop (cpu, python, and any library workload that sizes its tasks in loop iterations).
const Param& cpu_work_param();

}  // namespace scalelab
