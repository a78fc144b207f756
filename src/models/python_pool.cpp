// The py-* models' pool (python_pool.hpp): a runner object of scalelab_executors (Python),
// created and warmed in start, asked for one batch per run.

// Python.h first (through python_embed.hpp): it sets feature-test macros that the standard
// headers must see.
#include "workloads/python_embed.hpp"

#include "models/python_pool.hpp"

#include <stdlib.h>  // mkdtemp

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <vector>

#include <fmt/format.h>

#include "models/builtin.hpp"
#include "scalelab/error.hpp"

namespace scalelab::detail {
namespace py {
const char* executors_source();  // generated from scalelab_executors.py
}  // namespace py

namespace {

using py::GilHold;
using py::Ref;

// For --start-method spawn: the two modules a fresh python3 must import by name, written to a
// directory of their own at the head of sys.path while the pool lives (a spawned worker is
// given the parent's sys.path). Make and destroy with the GIL held.
class SpawnModules {
 public:
  SpawnModules() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        fmt::format("{}/scalelab-py-XXXXXX", tmp != nullptr && *tmp ? tmp : "/tmp");
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error(
          fmt::format("cannot make a directory for spawned workers' modules "
                      "({}): {}",
                      pattern, errno_text(errno)));
    }
    dir_ = pattern;
    write("scalelab_executors.py", py::executors_source());
    write("scalelab_tasks.py", py::tasks_source());
    entry_.reset(PyUnicode_FromString(dir_.c_str()));
    PyObject* path = PySys_GetObject("path");  // borrowed
    // First: a module of the same name in the user's directory must not shadow these.
    if (path == nullptr || !entry_ || PyList_Insert(path, 0, entry_.get()) != 0) {
      throw std::runtime_error(
          fmt::format("cannot put {} on sys.path: {}", dir_, py::take_exception_line()));
    }
  }
  ~SpawnModules() {
    if (PyObject* path = PySys_GetObject("path"); path != nullptr && entry_) {
      Ref done{PyObject_CallMethod(path, "remove", "O", entry_.get())};
      if (!done) PyErr_Clear();
    }
    entry_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  SpawnModules(const SpawnModules&) = delete;
  SpawnModules& operator=(const SpawnModules&) = delete;

 private:
  void write(const char* name, const char* text) const {
    std::ofstream out(std::filesystem::path(dir_) / name);
    out << text;
    if (!out.flush()) {
      throw std::runtime_error(fmt::format("cannot write {}/{}", dir_, name));
    }
  }

  std::string dir_;
  Ref entry_;
};

// progress(task, running) for Python: Workload::mark_task of the workload in its capsule.
PyObject* mark_task(PyObject* capsule, PyObject* const* args, Py_ssize_t nargs) {
  const auto* workload =
      static_cast<const Workload*>(PyCapsule_GetPointer(capsule, "scalelab.workload"));
  if (workload == nullptr || nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "progress(task, running)");
    return nullptr;
  }
  const std::size_t task = PyLong_AsSize_t(args[0]);
  if (task == static_cast<std::size_t>(-1) && PyErr_Occurred() != nullptr) return nullptr;
  workload->mark_task(task, PyObject_IsTrue(args[1]) == 1);
  Py_RETURN_NONE;
}

// A callable for the runner that marks tasks on `workload` (which outlives the pool), or None
// when nobody watches the tasks (the trial does not run in a process of its own). GIL held.
Ref progress_of(const Workload& workload) {
  if (!workload.runs_user_code()) return Ref{Py_NewRef(Py_None)};
  // Python keeps a pointer to the definition (never written: it is only not const in the C API).
  // A METH_FASTCALL function is stored as a PyCFunction, through a plain function pointer.
  static PyMethodDef method{"progress",
                            reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(mark_task)),
                            METH_FASTCALL, "progress(task, running): scalelab's task board"};
  Ref capsule{PyCapsule_New(const_cast<Workload*>(&workload), "scalelab.workload", nullptr)};
  return capsule ? Ref{PyCFunction_New(&method, capsule.get())} : nullptr;
}

// Borrowed item of an outcome dict (never null: the Python side always sets every key).
PyObject* item(PyObject* dict, const char* key) {
  PyObject* value = PyDict_GetItemString(dict, key);
  if (value == nullptr) throw std::runtime_error(fmt::format("outcome without '{}'", key));
  return value;
}

double number(PyObject* value) {
  return value == Py_None ? NAN : PyFloat_AsDouble(value);
}

class PythonPool final : public Pool {
 public:
  PythonPool(const Workload& workload, int workers, PythonExecutor executor);
  ~PythonPool() override;
  PythonPool(const PythonPool&) = delete;
  PythonPool& operator=(const PythonPool&) = delete;

  BatchResult run(std::size_t tasks, const RunControl& control) override;

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(fmt::format("{}: {}", executor_.model, what));
  }
  Ref call_batch(std::size_t tasks, const RunControl& control);
  BatchResult read_outcome(PyObject* outcome, const RunControl& control,
                           std::chrono::steady_clock::time_point started) const;
  TaskResult read_task(PyObject* result, double t0) const;

  PythonExecutor executor_;
  std::string who_;  // the task's function, for checksum messages
  std::optional<SpawnModules> spawn_;
  Ref module_;  // scalelab_executors
  Ref runner_;  // its PoolRunner or LoopRunner
};

PythonPool::PythonPool(const Workload& workload, int workers, PythonExecutor executor)
    : executor_(std::move(executor)) {
  const auto task = workload.python_task();
  if (!task) throw Error(python_tasks_only(workload, executor_.model));
  who_ = fmt::format("{}:{}", task->module, task->function);
  py::ensure_interpreter();
  const GilHold gil;
  py::install_module("scalelab_executors", py::executors_source());
  if (executor_.kind == "processes" && executor_.start_method == "spawn") spawn_.emplace();
  module_.reset(PyImport_ImportModule("scalelab_executors"));
  Ref args{PyList_New(0)};
  for (const auto& arg : task->args) {
    Ref value = py::to_python(arg);
    if (!value || !args || PyList_Append(args.get(), value.get()) != 0) {
      fail(py::take_exception_line());
    }
  }
  Ref progress = progress_of(workload);
  if (module_ && progress) {
    runner_.reset(PyObject_CallMethod(module_.get(), "start", "sissssOO", executor_.kind.c_str(),
                                      workers, executor_.start_method.c_str(), task->module.c_str(),
                                      task->function.c_str(), task->async_function.c_str(),
                                      args.get(), progress.get()));
  }
  if (!runner_) {
    const std::string why = py::take_exception_line();
    runner_.reset();
    module_.reset();
    spawn_.reset();
    fail(fmt::format("cannot start {} workers: {}", workers, why));
  }
}

PythonPool::~PythonPool() {
  const GilHold gil;
  if (runner_) {
    Ref closed{PyObject_CallMethod(runner_.get(), "close", nullptr)};
    if (!closed) PyErr_Clear();
  }
  runner_.reset();
  module_.reset();
  spawn_.reset();
}

// Runs the batch in Python: submits the tasks and waits (the GIL released while it waits) for
// them, the deadline or a stop request, which arrives on another thread.
Ref PythonPool::call_batch(std::size_t tasks, const RunControl& control) {
  Ref batch;
  {
    const GilHold gil;
    batch.reset(PyObject_CallMethod(module_.get(), "Batch", "n", static_cast<Py_ssize_t>(tasks)));
    if (!batch) fail(py::take_exception_line());
  }
  Ref outcome;
  std::string error;
  {
    // Destroyed after the GIL is given back: it waits for a callback running on another thread,
    // which may be waiting for the GIL.
    const std::stop_callback on_stop(control.stop, [&batch] {
      const GilHold gil;
      Ref done{PyObject_CallMethod(batch.get(), "stop", nullptr)};
      if (!done) PyErr_Clear();
    });
    const GilHold gil;
    const double grace = std::chrono::duration<double>(control.grace).count();
    Ref timeout{control.timeout.count() > 0
                    ? PyFloat_FromDouble(std::chrono::duration<double>(control.timeout).count())
                    : Py_NewRef(Py_None)};
    outcome.reset(PyObject_CallMethod(runner_.get(), "run", "nOdO", static_cast<Py_ssize_t>(tasks),
                                      timeout.get(), grace, batch.get()));
    if (!outcome) error = py::take_exception_line();
  }
  const GilHold gil;
  batch.reset();
  if (!outcome) fail(error);
  return outcome;
}

BatchResult PythonPool::run(std::size_t tasks, const RunControl& control) {
  const auto started = std::chrono::steady_clock::now();
  Ref outcome = call_batch(tasks, control);
  const GilHold gil;
  try {
    BatchResult batch = read_outcome(outcome.get(), control, started);
    outcome.reset();
    return batch;
  } catch (...) {
    outcome.reset();
    throw;
  }
}

BatchResult PythonPool::read_outcome(PyObject* outcome, const RunControl& control,
                                     std::chrono::steady_clock::time_point started) const {
  const std::string how = py::utf8(item(outcome, "how"));
  if (how == "broken") fail(py::utf8(item(outcome, "note")));
  if (how != "done") {
    CutShort c{control, started};
    c.stopped = how == "stopped";
    c.hung = how == "hung";
    if (executor_.kind == "asyncio") {
      c.why_hung = "a task that blocks the event loop cannot be cancelled";
    }
    PyObject* running = item(outcome, "running");
    for (Py_ssize_t i = 0; i < PyList_Size(running); ++i) {
      c.running.push_back(PyLong_AsSize_t(PyList_GetItem(running, i)));
    }
    c.ran = PyLong_AsSize_t(item(outcome, "ran"));
    c.tasks = static_cast<std::size_t>(PyList_Size(item(outcome, "results")));
    const std::string note = py::utf8(item(outcome, "note"));
    c.how = note.c_str();
    throw_cut_short(c);
  }
  const double t0 = PyFloat_AsDouble(item(outcome, "t0"));
  PyObject* results = item(outcome, "results");
  std::vector<TaskResult> tasks(static_cast<std::size_t>(PyList_Size(results)));
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    tasks[i] = read_task(PyList_GetItem(results, static_cast<Py_ssize_t>(i)), t0);
  }
  BatchResult batch = batch_of(std::move(tasks));
  if (PyObject* usage = item(outcome, "usage"); usage != Py_None) {
    batch.has_worker_usage = true;
    batch.worker_usage.user_s = PyFloat_AsDouble(PyList_GetItem(usage, 0));
    batch.worker_usage.sys_s = PyFloat_AsDouble(PyList_GetItem(usage, 1));
    batch.worker_usage.voluntary_ctx = PyLong_AsLongLong(PyList_GetItem(usage, 2));
    batch.worker_usage.involuntary_ctx = PyLong_AsLongLong(PyList_GetItem(usage, 3));
    batch.worker_usage.max_rss_kib = PyLong_AsLongLong(PyList_GetItem(usage, 4));
  }
  return batch;
}

// (value, start, end, error), or None for a task that never ran.
TaskResult PythonPool::read_task(PyObject* result, double t0) const {
  TaskResult task;
  if (result == Py_None) return task;
  task.runs = 1;
  const double start = number(PyTuple_GetItem(result, 1));
  const double end = number(PyTuple_GetItem(result, 2));
  task.start_s = std::isnan(start) ? 0 : start - t0;
  task.end_s = std::isnan(end) ? task.start_s : end - t0;
  if (PyObject* error = PyTuple_GetItem(result, 3); error != Py_None) {
    task.error = py::utf8(error);
    return task;
  }
  try {
    task.checksum = py::checksum_of(PyTuple_GetItem(result, 0), who_);
  } catch (const std::runtime_error& e) {
    task.error = e.what();
  }
  return task;
}

}  // namespace

std::string python_tasks_only(const Workload& workload, const std::string& model) {
  if (workload.python_task()) return {};
  return fmt::format("{} runs Python tasks only (python, python-io); {} is written in C++", model,
                     workload.spec().name);
}

std::unique_ptr<Pool> start_python_pool(const Workload& workload, int workers,
                                        const PythonExecutor& executor) {
  check_workers(workers);
  return std::make_unique<PythonPool>(workload, workers, executor);
}

}  // namespace scalelab::detail
