// `threads`: a fixed pool of W std::jthreads over one task queue. The queue holds the task
// numbers 0..N-1, so it is an atomic counter: taking a task is one fetch_add, and the pool's
// dispatch cost is what a lock-free queue costs, not what a mutex costs.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

#include "models/builtin.hpp"
#include "models/threads.hpp"
#include "scalelab/gil.hpp"

namespace scalelab::detail {
namespace {

class ThreadsPool final : public Pool {
 public:
  ThreadsPool(const Workload& workload, int workers, InterpreterLock* interpreter_lock)
      : workload_(workload), lock_(interpreter_lock) {
    threads_.reserve(static_cast<std::size_t>(workers));
    for (int i = 0; i < workers; ++i) {
      threads_.emplace_back([this](std::stop_token stop) { work(stop); });
    }
    // Warm: every thread exists and is parked on the queue before the clock can start.
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return parked_ == threads_.size(); });
  }

  ~ThreadsPool() override {
    for (auto& t : threads_) t.request_stop();  // wakes the waits below; jthread joins
  }

  BatchResult run(std::size_t tasks) override {
    BatchResult batch;
    batch.tasks.resize(tasks);
    {
      std::lock_guard lock(mutex_);
      results_ = &batch.tasks;
      tasks_ = tasks;
      next_.store(0, std::memory_order_relaxed);
      active_ = threads_.size();
      t0_ = std::chrono::steady_clock::now();
      ++generation_;
    }
    wake_.notify_all();
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return active_ == 0; });
    results_ = nullptr;
    // The clock stops when the last task ends, not when this thread wakes to notice it.
    for (const auto& t : batch.tasks) batch.wall_s = std::max(batch.wall_s, t.end_s);
    return batch;
  }

 private:
  void work(std::stop_token stop) {
    std::unique_lock lock(mutex_);
    ++parked_;
    done_.notify_all();
    std::uint64_t seen = generation_;
    while (wake_.wait(lock, stop, [&] { return generation_ != seen; })) {
      seen = generation_;
      // Read under the lock that published them; they stay fixed until every thread is done.
      auto& results = *results_;
      const std::size_t tasks = tasks_;
      const auto t0 = t0_;
      lock.unlock();
      for (;;) {
        const std::size_t task = next_.fetch_add(1, std::memory_order_relaxed);
        if (task >= tasks) break;
        if (lock_ != nullptr) {
          const GilHeld held(*lock_);  // an interpreter thread holds its lock while it runs
          run_task_blocking(workload_, task, results[task], t0);
        } else {
          run_task_blocking(workload_, task, results[task], t0);
        }
      }
      lock.lock();
      if (--active_ == 0) done_.notify_all();
    }
  }

  const Workload& workload_;
  InterpreterLock* const lock_;  // gil model: held around each task; null for plain threads
  std::mutex mutex_;
  std::condition_variable_any wake_;  // _any: its wait also returns on a stop request
  std::condition_variable_any done_;
  std::size_t parked_ = 0;
  std::size_t active_ = 0;
  std::uint64_t generation_ = 0;
  std::vector<TaskResult>* results_ = nullptr;
  std::size_t tasks_ = 0;
  std::chrono::steady_clock::time_point t0_;
  std::atomic<std::size_t> next_{0};
  std::vector<std::jthread> threads_;  // last: joined before the members above go away
};

class ThreadsModel final : public Model {
 public:
  std::unique_ptr<Pool> start(const Workload& workload, int workers,
                              const ModelOptions&) const override {
    check_workers(workers);
    return make_threads_pool(workload, workers, nullptr);
  }
};

}  // namespace

std::unique_ptr<Model> make_threads_model() {
  return std::make_unique<ThreadsModel>();
}

std::unique_ptr<Pool> make_threads_pool(const Workload& workload, int workers,
                                        InterpreterLock* lock) {
  return std::make_unique<ThreadsPool>(workload, workers, lock);
}

}  // namespace scalelab::detail
