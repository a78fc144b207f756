#pragma once
// The threads pool, shared by the `threads` and `gil` models.

#include <memory>

#include "scalelab/gil.hpp"
#include "scalelab/model.hpp"

namespace scalelab::detail {

/// A fixed pool of `workers` threads over one task queue. With a `lock`, each thread holds it
/// around each task, as an interpreter's threads hold their GIL (the lock outlives the pool).
std::unique_ptr<Pool> make_threads_pool(const Workload& workload, int workers,
                                        InterpreterLock* lock);

}  // namespace scalelab::detail
