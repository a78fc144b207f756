#pragma once
// The built-in workloads' factories, one per file in src/workloads/.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "scalelab/workload.hpp"

namespace scalelab::detail {

/// The built-in workloads, one per file in src/workloads/ (workload_cpu(), workload_io(), …),
/// in the order of SCALELAB_WORKLOADS in CMakeLists.txt; the list is generated from it.
std::vector<WorkloadEntry> builtin_workloads();

#if SCALELAB_HAVE_PYTHON
/// Times the seed's loop in the embedded interpreter, as calibrate_cpu times the C++ one.
CpuCalibration calibrate_python(std::chrono::nanoseconds target);
/// {"version": "3.11.2", "library": path, "linking": "static" | "shared"}: the CPython this
/// process runs, and whether its C API is linked into the executable or a shared library.
nlohmann::json python_runtime();
#endif

/// Measures how many iterations per second `run(iters)` manages (best of five runs of at least
/// 20 ms, starting the probe at `first_iters`) and sizes a task to last `target`.
/// A waiting task's checksum (io, python-io): mixing the index in makes a model that runs the
/// wrong task visible.
std::uint64_t io_checksum(std::size_t task);

/// `--io-wait`, declared once for io and python-io (io.cpp).
Param io_wait_param();

CpuCalibration calibrate_loop(const std::function<void(std::uint64_t)>& run,
                              std::uint64_t first_iters, std::chrono::nanoseconds target);

/// The serial checksums of cpu_loop(iters, task) for every task, from one run of the loop
/// (made on first use): the loop only adds modulo 1000003, so starting from the task number
/// shifts the result by it. Thread-safe.
class CpuLoopChecksums {
 public:
  explicit CpuLoopChecksums(std::uint64_t iters);
  std::uint64_t operator()(std::size_t task) const;

 private:
  std::uint64_t iters_;
  mutable std::once_flag once_;
  mutable std::uint64_t from_zero_ = 0;
};

}  // namespace scalelab::detail
