#pragma once
// The built-in models' factories, one per file in src/models/, and helpers they share.

#include <chrono>
#include <memory>

#include "scalelab/model.hpp"

namespace scalelab::detail {

std::unique_ptr<Model> make_serial_model();
std::unique_ptr<Model> make_threads_model();
std::unique_ptr<Model> make_processes_model();
std::unique_ptr<Model> make_async_model();
std::unique_ptr<Model> make_gil_model();

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

}  // namespace scalelab::detail
