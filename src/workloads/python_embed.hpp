#pragma once
// The embedded CPython every Python plug-in shares: the interpreter (one per process, never
// finalised), the GIL held per task, references, exceptions as one line, the modules scalelab
// writes in Python, and the workload whose tasks are Python functions (python, python-io).
//
// Python.h must come before the standard headers in the file that includes this one.

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "scalelab/workload.hpp"

namespace scalelab::detail::py {

/// An owned reference. Destroy (and so decref) only while holding the GIL.
struct Decref {
  void operator()(PyObject* object) const { Py_XDECREF(object); }
};
using Ref = std::unique_ptr<PyObject, Decref>;

/// Holds the GIL for the calling thread while alive, with the thread's own Python thread state
/// (made at the thread's first hold and kept until the thread ends, as a Python thread keeps
/// its own). Reentrant.
class GilHold {
 public:
  GilHold();
  ~GilHold();
  GilHold(const GilHold&) = delete;
  GilHold& operator=(const GilHold&) = delete;

 private:
  PyGILState_STATE state_;
};

/// Starts this process's interpreter on first use (thread-safe; afterwards a no-op) and puts
/// `scalelab_tasks` (the Python tasks) in its modules. The GIL is free when this returns.
void ensure_interpreter();

/// UTF-8 of a str object, or "" (and the error cleared) when it is not one.
std::string utf8(PyObject* text);

/// The last line Python's traceback would print for the pending exception
/// ("ZeroDivisionError: division by zero"), and clears it. Call with the GIL held.
std::string take_exception_line();

/// Runs `source` as module `name` and puts it in sys.modules (once: a module already there is
/// kept), so that it imports, and pickles by reference, like one on disk. Call with the GIL
/// held; throws Error.
void install_module(const char* name, const char* source);

/// The source of module `scalelab_tasks`: loop(i, iters), wait(i, seconds) and
/// await_wait(i, seconds), the Python tasks of the python and python-io workloads.
const char* tasks_source();

/// `module.function` (the function may be dotted) as a callable; imports the module (which runs
/// its code). Throws Error starting with `flag` (e.g. "--python-func"). Call with the GIL held.
Ref load_function(const std::string& module, const std::string& function, const std::string& flag);

/// A Python int, float or str from a JSON number or text (a task's extra arguments, as
/// PythonTask::args holds them); null with the Python error set when it cannot be made. Call
/// with the GIL held.
Ref to_python(const nlohmann::json& value);

/// A task's return value as a checksum, or std::runtime_error naming `who` when it is no int
/// from 0 to 2**64-1. Call with the GIL held.
std::uint64_t checksum_of(PyObject* value, const std::string& who);

/// A workload whose tasks are a Python function called with the task number and
/// `task.args` (python's loop or a user's function, python-io's wait). Blocking models call it
/// on their own threads, each task holding the GIL; the py-* models read python_task() and run
/// it in Python's own executors.
class PythonTaskWorkload final : public Workload {
 public:
  struct Setup {
    WorkloadSpec spec;
    PythonTask task;
    Bound bound = Bound::cpu;
    /// The serial checksums when known from C++; empty: run the task (a user's function).
    std::function<std::uint64_t(std::size_t)> expected{};
    /// "--python-func" when task is a user's function (imported by prepare(), its trials
    /// isolated); empty for scalelab's own tasks (loaded at construction).
    std::string user_flag{};
  };

  explicit PythonTaskWorkload(Setup setup);
  ~PythonTaskWorkload() override;

  const WorkloadSpec& spec() const override { return setup_.spec; }
  Bound bound() const override { return setup_.bound; }
  bool runs_user_code() const override { return !setup_.user_flag.empty(); }
  std::string user_code() const override;
  void prepare() const override;
  std::uint64_t run(std::size_t task) const override;
  std::uint64_t expected_checksum(std::size_t task) const override;
  std::string unsupported_by(const std::string& model) const override;
  std::optional<PythonTask> python_task() const override { return setup_.task; }
  void before_fork() const override;
  void after_fork(bool in_child) const override;

 private:
  void load() const;  // with the GIL held

  Setup setup_;
  std::string name_;  // for messages
  // The callable and its extra arguments: set by load(), in the constructor (scalelab's own
  // tasks) or once by prepare() (a user's function); only read once loaded_ says so.
  mutable Ref function_;
  mutable std::vector<Ref> args_;
  mutable std::atomic<bool> loaded_{false};
  mutable std::mutex load_mutex_;
  mutable PyGILState_STATE fork_gil_ = PyGILState_UNLOCKED;
};

}  // namespace scalelab::detail::py
