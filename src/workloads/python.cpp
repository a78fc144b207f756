// `python`: tasks run in CPython, embedded. The default task is the seed's loop written in
// Python; `--python-func module:function` calls a user's function with the task number.
//
// One interpreter per process, started when the first python workload is built (so a spawned
// worker pays for it before it reports ready, not inside the clock). The GIL is released as
// soon as the interpreter is up: whichever thread runs a task takes it for that task
// (PyGILState_Ensure/Release), exactly like a Python thread pool, and code that waits inside
// Python (time.sleep, socket reads) releases it by itself.

// Python.h first: it sets feature-test macros that the standard headers must see.
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>   // dladdr
#include <unistd.h>  // gettid, getpid

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "scalelab/error.hpp"
#include "workloads/builtin.hpp"

#ifndef SCALELAB_PYTHON_PREFIX
#define SCALELAB_PYTHON_PREFIX "/usr"  // set by CMake from python3-embed's prefix
#endif

namespace scalelab::detail {
namespace {

// The seed's loop, started from the task number like the C++ `cpu` workload, so both return
// cpu_loop(iters, task) (Python's integers do not wrap; C++'s i*i would only differ past 2^32
// iterations, hours of Python).
constexpr const char* kDefaultTaskSource = R"(
def task(i, iters):
    s = i % 1000003
    for k in range(iters):
        s = (s + k * k) % 1000003
    return s
)";

// An owned reference. Destroy (and so decref) only while holding the GIL.
struct Decref {
  void operator()(PyObject* object) const { Py_XDECREF(object); }
};
using Ref = std::unique_ptr<PyObject, Decref>;

// Keeps the calling thread's Python thread state from its first task to the thread's end, as
// a Python thread keeps its own. A thread without one (a pool thread) gets it at its first
// GilHold. Without this, PyGILState_Release deletes the state after every task and the next
// task builds a new one (the state, a frame stack freshly mapped and faulted in, the runtime's
// lock taken on both ends): 9 us a task against 1 us, measured with 1-iteration tasks.
//
// The state goes when the thread ends: its thread_local destructor takes the GIL and deletes it
// (the thread's last PyGILState_Release). After fork, the child has only the forking thread,
// whose state survives PyOS_AfterFork_Child (it is the current one), so its keeper stays
// valid; the other threads' states are deleted there, and their keepers are not in the child.
// The main thread keeps nothing: it normally has the interpreter's first state already, and
// its thread_locals are destroyed inside exit(), where waiting for the GIL could hang the exit
// behind a thread left running a task.
class ThreadStateKeeper {
 public:
  // Call without holding the GIL.
  static void ensure() { thread_local const ThreadStateKeeper keeper; }

  ThreadStateKeeper(const ThreadStateKeeper&) = delete;
  ThreadStateKeeper& operator=(const ThreadStateKeeper&) = delete;

 private:
  ThreadStateKeeper() {
    if (PyGILState_GetThisThreadState() != nullptr || ::gettid() == ::getpid()) return;
    outer_ = PyGILState_Ensure();  // creates the state (and takes the GIL)
    state_ = PyEval_SaveThread();  // hands the GIL back; the state stays this thread's
  }
  ~ThreadStateKeeper() {
    if (state_ == nullptr) return;
    PyEval_RestoreThread(state_);
    PyGILState_Release(outer_);  // its last hold: clears and deletes the state, drops the GIL
  }

  PyThreadState* state_ = nullptr;  // null: this keeper owns no state
  PyGILState_STATE outer_ = PyGILState_UNLOCKED;
};

// Holds the GIL for the calling thread while alive, with the thread's own Python thread state
// (kept by ThreadStateKeeper between tasks).
class GilHold {
 public:
  GilHold() {
    ThreadStateKeeper::ensure();
    state_ = PyGILState_Ensure();
  }
  ~GilHold() { PyGILState_Release(state_); }
  GilHold(const GilHold&) = delete;
  GilHold& operator=(const GilHold&) = delete;

 private:
  PyGILState_STATE state_;
};

std::string utf8(PyObject* text) {
  Py_ssize_t size = 0;
  const char* data = text != nullptr ? PyUnicode_AsUTF8AndSize(text, &size) : nullptr;
  if (data == nullptr) {
    PyErr_Clear();
    return {};
  }
  return std::string(data, static_cast<std::size_t>(size));
}

// The last line Python's traceback would print for the pending exception (normally
// "ZeroDivisionError: division by zero"), and clears it. Call with the GIL held.
std::string take_exception_line() {
#if PY_VERSION_HEX >= 0x030C0000
  Ref value{PyErr_GetRaisedException()};
  Ref type{value ? Py_NewRef(reinterpret_cast<PyObject*>(Py_TYPE(value.get()))) : nullptr};
#else
  PyObject *raw_type = nullptr, *raw_value = nullptr, *raw_traceback = nullptr;
  PyErr_Fetch(&raw_type, &raw_value, &raw_traceback);
  PyErr_NormalizeException(&raw_type, &raw_value, &raw_traceback);
  Ref type{raw_type}, value{raw_value}, traceback{raw_traceback};
#endif
  if (!type) return "unknown Python error";
  std::string text;
  if (Ref module{PyImport_ImportModule("traceback")}) {
    if (Ref lines{PyObject_CallMethod(module.get(), "format_exception_only", "OO", type.get(),
                                      value ? value.get() : Py_None)}) {
      if (Ref joined{PyUnicode_Join(Ref{PyUnicode_FromString("")}.get(), lines.get())}) {
        text = utf8(joined.get());
      }
    }
  }
  PyErr_Clear();  // whatever formatting raised; the original exception is what we report
  // Several lines for a SyntaxError (source and caret): the last one names the error.
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (const auto newline = text.rfind('\n'); newline != std::string::npos) {
    text.erase(0, newline + 1);
  }
  if (text.empty()) {
    const char* name = reinterpret_cast<PyTypeObject*>(type.get())->tp_name;
    text = name != nullptr ? name : "unknown Python error";
  }
  return text;
}

// Starts this process's interpreter on first use; afterwards a no-op. Thread-safe (a
// function-local static is initialised once). The GIL is free when this returns.
//
// It is never finalised: a process worker leaves with _exit, scalelab itself exits with pool
// threads possibly parked, and Py_FinalizeEx with other threads around (or after fork) can
// hang or crash; the operating system reclaims everything at exit anyway.
void ensure_interpreter() {
  static const bool started = [] {
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    // Signals stay scalelab's: with Python's handler, Ctrl-C would only set a flag that no
    // Python code ever checks.
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    // Python finds its standard library from its program's path. Left alone, an embedded
    // interpreter looks `python3` up on PATH, and when that is another installation of the same
    // version (pyenv, conda) it loads that one's library and extension modules into this
    // libpython. So name the interpreter installed with this libpython.
    const std::string program = fmt::format("{}/bin/python{}.{}", SCALELAB_PYTHON_PREFIX,
                                            PY_MAJOR_VERSION, PY_MINOR_VERSION);
    PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, program.c_str());
    if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
      throw Error(fmt::format("python workload: cannot start the embedded interpreter: {}",
                              status.err_msg != nullptr ? status.err_msg : "unknown reason"));
    }
    // "" is the current directory at import time, as for `python -c`: a user's module beside
    // them is found.
    PyObject* path = PySys_GetObject("path");  // borrowed
    Ref here{PyUnicode_FromString("")};
    if (path == nullptr || !here || PyList_Insert(path, 0, here.get()) != 0) PyErr_Clear();
    here.reset();
    // Hand the GIL back: from now on every thread, this one included, takes it per task.
    PyEval_SaveThread();
    return true;
  }();
  (void)started;
}

// The default task as a Python function object. Call with the GIL held.
Ref compile_default_task() {
  Ref globals{PyDict_New()};
  if (!globals || PyDict_SetItemString(globals.get(), "__builtins__", PyEval_GetBuiltins()) != 0) {
    throw Error(fmt::format("python workload: {}", take_exception_line()));
  }
  Ref done{PyRun_String(kDefaultTaskSource, Py_file_input, globals.get(), globals.get())};
  if (!done) throw Error(fmt::format("python workload: {}", take_exception_line()));
  PyObject* task = PyDict_GetItemString(globals.get(), "task");  // borrowed
  if (task == nullptr) throw Error("python workload: the default task did not compile");
  return Ref{Py_NewRef(task)};
}

// Checks that `text` has the MODULE:FUNCTION form, without importing anything; throws Error
// naming --python-func.
void check_function_name(const std::string& text) {
  const auto colon = text.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    throw Error(fmt::format(
        "--python-func: '{}' is not MODULE:FUNCTION; give e.g. mytasks:work for function work "
        "in mytasks.py",
        text));
  }
}

// "module:function" (the function part may be dotted, e.g. Class.method) as a callable. The
// import runs the module's code: the user's. Call with the GIL held; throws Error naming
// --python-func.
Ref load_user_function(const std::string& text) {
  check_function_name(text);
  const auto colon = text.find(':');
  const std::string module_name = text.substr(0, colon);
  const std::string function_name = text.substr(colon + 1);
  Ref object{PyImport_ImportModule(module_name.c_str())};
  if (!object) {
    throw Error(fmt::format("--python-func: cannot import module '{}': {}", module_name,
                            take_exception_line()));
  }
  std::string_view rest = function_name;
  while (!rest.empty()) {
    const std::string part(rest.substr(0, rest.find('.')));
    rest.remove_prefix(std::min(rest.size(), part.size() + 1));
    Ref next{PyObject_GetAttrString(object.get(), part.c_str())};
    if (!next) {
      PyErr_Clear();
      throw Error(fmt::format("--python-func: module '{}' has no function '{}'", module_name,
                              function_name));
    }
    object = std::move(next);
  }
  if (PyCallable_Check(object.get()) == 0) {
    throw Error(fmt::format("--python-func: '{}' is a {}, not a function", text,
                            Py_TYPE(object.get())->tp_name));
  }
  return object;
}

class PythonWorkload final : public Workload {
 public:
  explicit PythonWorkload(WorkloadSpec spec)
      : spec_(std::move(spec)),
        iters_(spec_.params.count("cpu_iters")),
        func_(spec_.params.text("python_func")),
        expected_(iters_),
        name_(func_.empty() ? "the default python task" : func_) {
    // A user's module is imported by prepare(), in the process that runs the tasks: its
    // top-level code is the user's, and may crash or hang like the function itself.
    if (!func_.empty()) check_function_name(func_);
    ensure_interpreter();
    if (func_.empty()) {
      const GilHold gil;
      function_ = compile_default_task();
      loaded_ = true;
    }
  }

  ~PythonWorkload() override {
    const GilHold gil;
    function_.reset();
  }

  const WorkloadSpec& spec() const override { return spec_; }

  // A user's function may just as well wait; nothing tells us which, so it is taken as CPU
  // work (the ideal line then stops at the core count).
  Bound bound() const override { return Bound::cpu; }

  bool runs_user_code() const override { return !func_.empty(); }
  std::string user_code() const override { return "--python-func: " + func_; }

  void prepare() const override {
    if (loaded_.load(std::memory_order_acquire)) return;
    // Once, whichever thread comes first; a failed import throws here and is tried again by
    // the next caller (each task then reports the import's error).
    const std::lock_guard lock(load_mutex_);
    if (loaded_.load(std::memory_order_relaxed)) return;
    const GilHold gil;
    function_ = load_user_function(func_);
    loaded_.store(true, std::memory_order_release);
  }

  std::uint64_t run(std::size_t task) const override {
    prepare();
    const GilHold gil;  // the real GIL, for this task only
    const Ref result{
        func_.empty()
            ? PyObject_CallFunction(function_.get(), "KK", static_cast<unsigned long long>(task),
                                    static_cast<unsigned long long>(iters_))
            : PyObject_CallFunction(function_.get(), "(K)", static_cast<unsigned long long>(task))};
    if (!result) throw std::runtime_error(take_exception_line());
    if (PyLong_Check(result.get()) == 0) {
      throw std::runtime_error(fmt::format("{} returned a {}, not an int checksum", name_,
                                           Py_TYPE(result.get())->tp_name));
    }
    const unsigned long long checksum = PyLong_AsUnsignedLongLong(result.get());
    if (checksum == static_cast<unsigned long long>(-1) && PyErr_Occurred() != nullptr) {
      PyErr_Clear();
      const Ref repr{PyObject_Repr(result.get())};
      throw std::runtime_error(
          fmt::format("{} returned {}, not a checksum from 0 to 2**64-1", name_, utf8(repr.get())));
    }
    return checksum;
  }

  std::uint64_t expected_checksum(std::size_t task) const override {
    // The default loop's value is known from C++ (cheaply, once); a user's function's serial
    // value is by definition what running it serially returns.
    if (func_.empty()) return expected_(task);
    try {
      return run(task);
    } catch (const std::runtime_error&) {
      // A task that raises has no serial value, and the runner computes these before any
      // trial: throwing here would end the whole run. The trials then report the task's own
      // exception (errors are checked before checksums), so any value will do.
      return 0;
    }
  }

  std::string unsupported_by(const std::string& model) const override {
    if (model == "gil") {
      return "CPython has its own GIL; compare python under threads with cpu under gil";
    }
    return {};
  }

  // CPython's rules for fork (what os.fork does): hold the GIL, PyOS_BeforeFork, fork, then
  // PyOS_AfterFork_Parent or _Child, which re-creates the GIL and drops other threads' states
  // in the child. The interpreter is always up here: the constructor started it. The
  // processes model calls these two in pairs on one thread, and fork_gil_ is written only
  // while the GIL is held, so two pools forking at once are ordered by the GIL itself.
  void before_fork() const override {
    fork_gil_ = PyGILState_Ensure();
    PyOS_BeforeFork();
  }
  void after_fork(bool in_child) const override {
    if (in_child) {
      PyOS_AfterFork_Child();
    } else {
      PyOS_AfterFork_Parent();
    }
    PyGILState_Release(fork_gil_);
  }

 private:
  WorkloadSpec spec_;
  std::uint64_t iters_;  // the default loop's size
  std::string func_;     // "module:function", or empty for the default loop
  CpuLoopChecksums expected_;
  std::string name_;  // for messages
  // The task's callable: set in the constructor (the default loop) or once by prepare() (a
  // user's function), and only read once loaded_ says so.
  mutable Ref function_;
  mutable std::atomic<bool> loaded_{false};
  mutable std::mutex load_mutex_;
  mutable PyGILState_STATE fork_gil_ = PyGILState_UNLOCKED;
};

}  // namespace

nlohmann::json python_runtime() {
  // "3.11.2 (main, ...) [GCC 12.2.0]"; callable before the interpreter starts.
  std::string version = Py_GetVersion();
  version = version.substr(0, version.find(' '));
  // Where the C API lives: the executable itself when it links the archive, or the shared
  // library's path. Py_None is an object every libpython exports.
  std::string library = "unknown";
  std::string linking = "unknown";
  Dl_info info{};
  if (::dladdr(static_cast<const void*>(Py_None), &info) != 0 && info.dli_fname != nullptr) {
    std::error_code ec;
    const auto self = std::filesystem::canonical("/proc/self/exe", ec);
    const auto here = std::filesystem::canonical(info.dli_fname, ec);
    const bool in_executable = *info.dli_fname == '\0' || (!ec && here == self);
    library = in_executable ? self.string() : std::string(info.dli_fname);
    linking = in_executable ? "static" : "shared";
  }
  return {{"version", version}, {"library", library}, {"linking", linking}};
}

CpuCalibration calibrate_python(std::chrono::nanoseconds target) {
  ensure_interpreter();
  const GilHold gil;
  const Ref task = compile_default_task();
  return calibrate_loop(
      [&](std::uint64_t iters) {
        const Ref result{
            PyObject_CallFunction(task.get(), "KK", 0ULL, static_cast<unsigned long long>(iters))};
        if (!result) throw Error(fmt::format("python workload: {}", take_exception_line()));
      },
      10000, target);
}

namespace {

// The seed's loop sized by --cpu-work, or a user's function, which sizes itself: no loop to
// calibrate then (it would cost ~0.2 s at start).
ParamValues resolve_python(const ParamValues& given, const IterationsFor& iterations) {
  ParamValues resolved;
  if (const std::string func = given.text("python_func"); !func.empty()) {
    resolved.set("python_func", func);
    return resolved;
  }
  const CpuWork work = given.work("cpu_work");
  resolved.set("cpu_iters", work.iters != 0 ? work.iters : iterations(work.duration));
  return resolved;
}

}  // namespace

WorkloadEntry workload_python() {
  WorkloadEntry entry{
      "python",
      "the seed's loop in embedded CPython (size with --cpu-work), or --python-func "
      "MODULE:FUNCTION",
      [](const WorkloadSpec& spec) -> std::unique_ptr<Workload> {
        if (spec.params.text("python_func").empty() && spec.params.count("cpu_iters") == 0) {
          throw Error("--cpu-work: the python workload needs at least 1 iteration");
        }
        return std::make_unique<PythonWorkload>(spec);
      },
      {cpu_work_param(),
       {"python-func", ParamKind::text, "",
        "python workload: MODULE:FUNCTION called with the task number, returning an int "
        "checksum (default: the seed's loop in Python, sized by --cpu-work)",
        "Python function {}"}},
      resolve_python,
      calibrate_python,
      "python",
      python_runtime,
      true};
  return entry;
}

}  // namespace scalelab::detail
