// `tbb`: oneTBB's work-stealing scheduler, as a C++ user would reach for it: a task_arena of W
// threads and a parallel_for over the tasks, one task a chunk (simple_partitioner, grain 1), so
// that an idle worker steals single tasks. Run by a driver thread of the runtime pool
// (runtime_pool.hpp), which owns the arena.

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include "models/builtin.hpp"
#include "models/runtime_pool.hpp"

namespace scalelab::detail {
namespace {

class TbbRuntime final : public TaskRuntime {
 public:
  void start(int workers) override {
    // oneTBB caps its workers at the machine's cores unless told otherwise; W workers means W,
    // here as in the threads model (the cap holds while this pool lives).
    control_.emplace(tbb::global_control::max_allowed_parallelism,
                     static_cast<std::size_t>(workers));
    arena_.emplace(workers);
    arena_->initialize();
    // Warm: each worker joins a task once, so none starts during a timed batch. Workers may be
    // slow to come (more than there are cores), so the wait is bounded rather than exact.
    std::atomic<int> arrived{0};
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    arena_->execute([&] {
      tbb::parallel_for(
          tbb::blocked_range<int>(0, workers, 1),
          [&](const tbb::blocked_range<int>&) {
            arrived.fetch_add(1);
            while (arrived.load() < workers && std::chrono::steady_clock::now() < give_up) {
              std::this_thread::yield();
            }
          },
          tbb::simple_partitioner{});
    });
  }

  void for_each(std::size_t tasks, const std::function<void(std::size_t, int)>& task) override {
    arena_->execute([&] {
      tbb::parallel_for(
          tbb::blocked_range<std::size_t>(0, tasks, 1),
          [&](const tbb::blocked_range<std::size_t>& range) {
            const int slot = tbb::this_task_arena::current_thread_index();
            for (std::size_t i = range.begin(); i != range.end(); ++i) task(i, slot);
          },
          tbb::simple_partitioner{});
    });
  }

 private:
  std::optional<tbb::global_control> control_;
  std::optional<tbb::task_arena> arena_;
};

class TbbModel final : public Model {
 public:
  std::unique_ptr<Pool> start(const Workload& workload, int workers,
                              const ModelOptions&) const override {
    check_workers(workers);
    return make_runtime_pool(
        workload, workers, [] { return std::make_unique<TbbRuntime>(); }, "tbb");
  }
};

}  // namespace

ModelEntry model_tbb() {
  return {"tbb", "oneTBB: a task_arena of W threads, parallel_for over the tasks, work stealing",
          [] { return std::make_unique<TbbModel>(); }};
}

}  // namespace scalelab::detail
