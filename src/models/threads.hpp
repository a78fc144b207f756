#pragma once
// The threads pool, shared by the `serial`, `threads` and `gil` models.

#include <memory>

#include "scalelab/gil.hpp"
#include "scalelab/model.hpp"

namespace scalelab::detail {

/// How a threads pool runs its tasks.
struct ThreadsPoolOptions {
  /// gil: held around each task, as an interpreter's threads hold their GIL. Shared with the
  /// threads, which may outlive the pool when a task hangs.
  std::shared_ptr<InterpreterLock> lock;
  /// serial: one thread takes the tasks in order with a plain counter (no atomic
  /// read-modify-write per task) and starts the clock itself, so the baseline pays no dispatch
  /// or wake-up cost.
  bool sequential = false;
};

/// A fixed pool of `workers` threads over one task queue. A batch that passes its timeout
/// takes no new task; tasks still running after the grace period are abandoned: the batch
/// throws BatchAborted (hung) and the pool's destructor detaches the threads.
std::unique_ptr<Pool> make_threads_pool(const Workload& workload, int workers,
                                        ThreadsPoolOptions options);

}  // namespace scalelab::detail
