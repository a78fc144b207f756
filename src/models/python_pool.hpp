#pragma once
// The pool the py-* models share: Python's own executors (concurrent.futures'
// ThreadPoolExecutor and ProcessPoolExecutor, an asyncio event loop), run by the embedded
// CPython over a workload's Python task (Workload::python_task). The Python side is
// src/models/scalelab_executors.py; this side turns its outcome into a BatchResult.

#include <memory>
#include <string>

#include "scalelab/model.hpp"

namespace scalelab::detail {

/// Which of Python's executors, and how its processes start.
struct PythonExecutor {
  std::string kind;          ///< "threads", "processes" or "asyncio"
  std::string model;         ///< the model's name, for messages: "py-threads"
  std::string start_method;  ///< processes: "fork" or "spawn"
};

/// Why a py-* model cannot run `workload` (its tasks are not Python), or "".
std::string python_tasks_only(const Workload& workload, const std::string& model);

/// Starts and warms `executor` with `workers` workers (threads, processes, the Semaphore's
/// limit) for `workload`'s Python task. Throws Error when the workload has none, and
/// std::runtime_error (one line, naming the model) when Python cannot start the executor.
std::unique_ptr<Pool> start_python_pool(const Workload& workload, int workers,
                                        const PythonExecutor& executor);

}  // namespace scalelab::detail
