// The embedded CPython: see python_embed.hpp.
//
// One interpreter per process, started when the first Python workload is built (so a spawned
// worker pays for it before it reports ready, not inside the clock). The GIL is released as
// soon as the interpreter is up: whichever thread runs a task takes it for that task
// (PyGILState_Ensure/Release), exactly like a Python thread pool, and code that waits inside
// Python (time.sleep, socket reads) releases it by itself.

// Python.h first (through python_embed.hpp): it sets feature-test macros that the standard
// headers must see.
#include "workloads/python_embed.hpp"

#include <unistd.h>  // gettid, getpid

#include <algorithm>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>

#include "scalelab/error.hpp"

#ifndef SCALELAB_PYTHON_PREFIX
#define SCALELAB_PYTHON_PREFIX "/usr"  // set by CMake from python3-embed's prefix
#endif

namespace scalelab::detail::py {
namespace {

// The tasks, as a module: the seed's loop started from the task number like the C++ `cpu`
// workload, so both return cpu_loop(iters, task) (Python's integers do not wrap; C++'s i*i
// would only differ past 2^32 iterations, hours of Python); and a wait whose checksum is the
// C++ io workload's.
constexpr const char* kTasksSource = R"(
"""scalelab's Python tasks (written by scalelab): the seed's CPU loop and a wait."""
import time


def loop(i, iters):
    s = i % 1000003
    for k in range(iters):
        s = (s + k * k) % 1000003
    return s


def wait(i, seconds):
    time.sleep(seconds)
    return 0x9E3779B97F4A7C15 ^ i


async def await_wait(i, seconds):
    import asyncio
    await asyncio.sleep(seconds)
    return 0x9E3779B97F4A7C15 ^ i
)";

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

}  // namespace

GilHold::GilHold() {
  ThreadStateKeeper::ensure();
  state_ = PyGILState_Ensure();
}

GilHold::~GilHold() {
  PyGILState_Release(state_);
}

std::string utf8(PyObject* text) {
  Py_ssize_t size = 0;
  const char* data = text != nullptr ? PyUnicode_AsUTF8AndSize(text, &size) : nullptr;
  if (data == nullptr) {
    PyErr_Clear();
    return {};
  }
  return std::string(data, static_cast<std::size_t>(size));
}

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

void install_module(const char* name, const char* source) {
  if (Ref present{PyImport_GetModule(Ref{PyUnicode_FromString(name)}.get())}) return;
  PyErr_Clear();
  const std::string file = fmt::format("<{}>", name);
  Ref code{Py_CompileString(source, file.c_str(), Py_file_input)};
  if (!code) throw Error(fmt::format("python: module {}: {}", name, take_exception_line()));
  Ref module{PyImport_ExecCodeModule(name, code.get())};  // into sys.modules too
  if (!module) throw Error(fmt::format("python: module {}: {}", name, take_exception_line()));
}

const char* tasks_source() {
  return kTasksSource;
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
    // libpython. So name the interpreter installed with this libpython (it is also what
    // py-processes spawns: sys.executable).
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
    install_module("scalelab_tasks", kTasksSource);
    // Hand the GIL back: from now on every thread, this one included, takes it per task.
    PyEval_SaveThread();
    return true;
  }();
  (void)started;
}

Ref load_function(const std::string& module, const std::string& function, const std::string& flag) {
  Ref object{PyImport_ImportModule(module.c_str())};
  if (!object) {
    throw Error(
        fmt::format("{}: cannot import module '{}': {}", flag, module, take_exception_line()));
  }
  std::string_view rest = function;
  while (!rest.empty()) {
    const std::string part(rest.substr(0, rest.find('.')));
    rest.remove_prefix(std::min(rest.size(), part.size() + 1));
    Ref next{PyObject_GetAttrString(object.get(), part.c_str())};
    if (!next) {
      PyErr_Clear();
      throw Error(fmt::format("{}: module '{}' has no function '{}'", flag, module, function));
    }
    object = std::move(next);
  }
  if (PyCallable_Check(object.get()) == 0) {
    throw Error(fmt::format("{}: '{}:{}' is a {}, not a function", flag, module, function,
                            Py_TYPE(object.get())->tp_name));
  }
  return object;
}

Ref to_python(const nlohmann::json& value) {
  if (value.is_number_unsigned())
    return Ref{PyLong_FromUnsignedLongLong(value.get<std::uint64_t>())};
  if (value.is_number_integer()) return Ref{PyLong_FromLongLong(value.get<long long>())};
  if (value.is_number()) return Ref{PyFloat_FromDouble(value.get<double>())};
  return Ref{PyUnicode_FromString(value.get<std::string>().c_str())};
}

std::uint64_t checksum_of(PyObject* value, const std::string& who) {
  if (PyLong_Check(value) == 0) {
    throw std::runtime_error(
        fmt::format("{} returned a {}, not an int checksum", who, Py_TYPE(value)->tp_name));
  }
  const unsigned long long checksum = PyLong_AsUnsignedLongLong(value);
  if (checksum == static_cast<unsigned long long>(-1) && PyErr_Occurred() != nullptr) {
    PyErr_Clear();
    const Ref repr{PyObject_Repr(value)};
    throw std::runtime_error(
        fmt::format("{} returned {}, not a checksum from 0 to 2**64-1", who, utf8(repr.get())));
  }
  return checksum;
}

PythonTaskWorkload::PythonTaskWorkload(Setup setup)
    : setup_(std::move(setup)),
      name_(setup_.user_flag.empty()
                ? fmt::format("the {} workload's task", setup_.spec.name)
                : fmt::format("{}:{}", setup_.task.module, setup_.task.function)) {
  ensure_interpreter();
  // A user's module is imported by prepare(), in the process that runs the tasks: its
  // top-level code is the user's, and may crash or hang like the function itself.
  if (setup_.user_flag.empty()) {
    const GilHold gil;
    load();
  }
}

PythonTaskWorkload::~PythonTaskWorkload() {
  const GilHold gil;
  function_.reset();
  args_.clear();
}

std::string PythonTaskWorkload::user_code() const {
  return fmt::format("{}: {}:{}", setup_.user_flag, setup_.task.module, setup_.task.function);
}

void PythonTaskWorkload::load() const {
  function_ = load_function(setup_.task.module, setup_.task.function,
                            setup_.user_flag.empty() ? "python" : setup_.user_flag);
  args_.clear();
  for (const auto& arg : setup_.task.args) {
    Ref value = to_python(arg);
    if (!value) throw Error(fmt::format("python: {}", take_exception_line()));
    args_.push_back(std::move(value));
  }
  loaded_.store(true, std::memory_order_release);
}

void PythonTaskWorkload::prepare() const {
  if (loaded_.load(std::memory_order_acquire)) return;
  // Once, whichever thread comes first; a failed import throws here and is tried again by
  // the next caller (each task then reports the import's error).
  const std::lock_guard lock(load_mutex_);
  if (loaded_.load(std::memory_order_relaxed)) return;
  const GilHold gil;
  load();
}

std::uint64_t PythonTaskWorkload::run(std::size_t task) const {
  prepare();
  const GilHold gil;  // the real GIL, for this task only
  Ref number{PyLong_FromSize_t(task)};
  std::vector<PyObject*> argv{number.get()};
  for (const auto& arg : args_) argv.push_back(arg.get());
  Ref result{PyObject_Vectorcall(function_.get(), argv.data(), argv.size(), nullptr)};
  if (result && PyCoro_CheckExact(result.get()) != 0) {
    // An async def, under a model that blocks: run it to completion on an event loop of its
    // own, as asyncio.run would in a Python thread.
    Ref asyncio{PyImport_ImportModule("asyncio")};
    result = asyncio ? Ref{PyObject_CallMethod(asyncio.get(), "run", "O", result.get())} : nullptr;
  }
  if (!result) throw std::runtime_error(take_exception_line());
  return checksum_of(result.get(), name_);
}

std::uint64_t PythonTaskWorkload::expected_checksum(std::size_t task) const {
  // scalelab's own tasks' values are known from C++ (cheaply); a user's function's serial
  // value is by definition what running it serially returns.
  if (setup_.expected) return setup_.expected(task);
  try {
    return run(task);
  } catch (const std::runtime_error&) {
    // A task that raises has no serial value, and the runner computes these before any
    // trial: throwing here would end the whole run. The trials then report the task's own
    // exception (errors are checked before checksums), so any value will do.
    return 0;
  }
}

std::string PythonTaskWorkload::unsupported_by(const std::string& model) const {
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
void PythonTaskWorkload::before_fork() const {
  fork_gil_ = PyGILState_Ensure();
  PyOS_BeforeFork();
}

void PythonTaskWorkload::after_fork(bool in_child) const {
  if (in_child) {
    PyOS_AfterFork_Child();
  } else {
    PyOS_AfterFork_Parent();
  }
  PyGILState_Release(fork_gil_);
}

}  // namespace scalelab::detail::py
