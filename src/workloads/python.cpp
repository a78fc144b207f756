// `python`: tasks run in CPython, embedded (python_embed.hpp). The default task is the seed's
// loop written in Python (scalelab_tasks.loop); `--python-func module:function` calls a user's
// function with the task number.

// Python.h first (through python_embed.hpp): it sets feature-test macros that the standard
// headers must see.
#include "workloads/python_embed.hpp"

#include <dlfcn.h>  // dladdr

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "scalelab/error.hpp"
#include "workloads/builtin.hpp"

namespace scalelab::detail {
namespace {

using py::GilHold;
using py::Ref;

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

std::unique_ptr<Workload> make_python(const WorkloadSpec& spec) {
  const std::string func = spec.params.text("python_func");
  py::PythonTaskWorkload::Setup setup{spec, {}, Bound::cpu};
  if (func.empty()) {
    const std::uint64_t iters = spec.params.count("cpu_iters");
    if (iters == 0) throw Error("--cpu-work: the python workload needs at least 1 iteration");
    setup.task = {"scalelab_tasks", "loop", {}, nlohmann::json::array({iters})};
    setup.expected = [checksums = std::make_shared<CpuLoopChecksums>(iters)](std::size_t task) {
      return (*checksums)(task);
    };
  } else {
    // A user's function may just as well wait; nothing tells us which, so it is taken as CPU
    // work (the ideal line then stops at the core count).
    check_function_name(func);
    const auto colon = func.find(':');
    setup.task = {func.substr(0, colon), func.substr(colon + 1)};
    setup.user_flag = "--python-func";
  }
  return std::make_unique<py::PythonTaskWorkload>(std::move(setup));
}

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
  py::ensure_interpreter();
  const GilHold gil;
  const Ref task = py::load_function("scalelab_tasks", "loop", "python");
  return calibrate_loop(
      [&](std::uint64_t iters) {
        const Ref result{
            PyObject_CallFunction(task.get(), "KK", 0ULL, static_cast<unsigned long long>(iters))};
        if (!result) throw Error(fmt::format("python workload: {}", py::take_exception_line()));
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
      make_python,
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
