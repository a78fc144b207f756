#pragma once
// A pool whose tasks a threading runtime of its own schedules: oneTBB's task arena (`tbb`), an
// OpenMP team (`openmp`). One driver thread owns the runtime and hands it each batch; the
// calling thread waits with the batch's timeout and stop request, as for the threads pool. A
// runtime cannot cancel a task it started, so a batch cut short takes no new task and, when the
// tasks in flight outlive the grace period, is abandoned as hung: the driver thread is detached
// with the runtime, which it owns jointly with the pool.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "scalelab/model.hpp"

namespace scalelab::detail {

/// The runtime's side: created, started and used on the driver thread only.
class TaskRuntime {
 public:
  virtual ~TaskRuntime() = default;
  /// Starts `workers` workers and runs them once, so that none starts inside a timed batch.
  /// Throws std::exception when they cannot be started.
  virtual void start(int workers) = 0;
  /// Calls `task(i, slot)` once for every i in [0, tasks), on the runtime's workers, and
  /// returns when all have returned; `slot` is the worker's index, in [0, workers).
  virtual void for_each(std::size_t tasks,
                        const std::function<void(std::size_t task, int slot)>& task) = 0;
};

/// Makes the runtime, on the driver thread.
using RuntimeFactory = std::function<std::unique_ptr<TaskRuntime>()>;

/// A pool of `workers` for `workload` run by the runtime `make` builds; `name` ("tbb") is for
/// error messages.
std::unique_ptr<Pool> make_runtime_pool(const Workload& workload, int workers, RuntimeFactory make,
                                        std::string name);

}  // namespace scalelab::detail
