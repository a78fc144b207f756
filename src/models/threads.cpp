// `threads`: a fixed pool of W std::threads over one task queue. The queue holds the task
// numbers 0..N-1, so it is an atomic counter: taking a task is one fetch_add, and the pool's
// dispatch cost is what a lock-free queue costs, not what a mutex costs.
//
// A thread cannot be killed safely (it may hold a lock, or be half-way through a write), so a
// task that hangs is abandoned instead: the batch stops handing out tasks, waits a grace period
// for the tasks in flight, and if they are still running it throws BatchAborted (hung) and the
// pool detaches its threads rather than join them forever. Everything those threads touch
// after that is owned jointly by them (a shared_ptr), except the workload, which the caller
// must keep alive until the process exits (run_sweep does).

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <new>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "models/builtin.hpp"
#include "models/threads.hpp"
#include "scalelab/gil.hpp"
#include "scalelab/parse.hpp"

namespace scalelab::detail {
namespace {

using Clock = std::chrono::steady_clock;

// Everything the threads use. Owned jointly by the pool and its threads, so that a thread
// abandoned in a hung task never touches freed memory when (if) the task returns.
struct ThreadsState {
  ThreadsState(const Workload& w, ThreadsPoolOptions options, std::size_t workers)
      : workload(w),
        lock(std::move(options.lock)),
        sequential(options.sequential),
        slots(workers) {}

  const Workload& workload;
  const std::shared_ptr<InterpreterLock> lock;  // gil model: held around each task
  const bool sequential;                        // serial model: one thread, tasks in order
  std::vector<TaskSlot> slots;                  // each thread's task in flight
  // Starting and stopping the pool (not timed) goes through the mutex; a batch does not. With
  // 1000 threads, waking them through one condition variable's mutex, and counting them out
  // through it, took them one at a time: the last of 1000 started 14.9 ms after the clock, now
  // 7.6 ms (BENCHMARKS.md, issue 14 item 3).
  std::mutex mutex;
  std::condition_variable_any done;  // the last thread out of a batch; every thread parked
  std::size_t parked = 0;
  // A batch starts when `generation` changes (a futex wake of every thread at once); what it
  // runs is published before, with release. 32 bits: std::atomic's wait is a bare futex then.
  std::atomic<std::uint32_t> generation{0};
  std::atomic<bool> closing{false};  // the pool is going: a thread woken by `generation` exits
  std::atomic<std::size_t> active{0};
  std::vector<TaskResult> results;
  std::size_t tasks = 0;
  Clock::time_point t0;
  std::atomic<std::size_t> next{0};
  std::atomic<bool> quit_batch{false};  // the batch timed out or was stopped: take no new task
};

void run_one(ThreadsState& s, std::size_t task, TaskSlot& slot, std::vector<TaskResult>& results,
             Clock::time_point t0) {
  slot.task.store(task, std::memory_order_relaxed);
  if (s.lock != nullptr) {
    const GilHeld held(*s.lock);  // an interpreter thread holds its lock while it runs
    run_task_blocking(s.workload, task, results[task], t0);
  } else {
    run_task_blocking(s.workload, task, results[task], t0);
  }
  slot.task.store(kNoTask, std::memory_order_relaxed);
}

void run_batch(ThreadsState& s, TaskSlot& slot) {
  auto& results = s.results;
  const std::size_t tasks = s.tasks;
  if (s.sequential) {
    // The clock starts here, on the thread that runs the tasks, as it would on the calling
    // thread: the baseline does not pay for waking this thread.
    const auto t0 = Clock::now();
    for (std::size_t task = 0; task < tasks; ++task) {
      if (s.quit_batch.load(std::memory_order_relaxed)) break;
      run_one(s, task, slot, results, t0);
    }
    return;
  }
  for (;;) {
    if (s.quit_batch.load(std::memory_order_relaxed)) break;
    const std::size_t task = s.next.fetch_add(1, std::memory_order_relaxed);
    if (task >= tasks) break;
    run_one(s, task, slot, results, s.t0);
  }
}

void work(ThreadsState& s, std::size_t index) {
  TaskSlot& slot = s.slots[index];
  std::uint32_t seen = s.generation.load(std::memory_order_acquire);
  {
    const std::lock_guard lock(s.mutex);
    ++s.parked;
  }
  s.done.notify_all();
  for (;;) {
    // A pool that failed to start closes at once: a thread that read `generation` after that
    // sees `closing` too, and must not wait for a change that has been.
    if (s.closing.load(std::memory_order_acquire)) return;
    s.generation.wait(seen, std::memory_order_acquire);
    if (s.closing.load(std::memory_order_acquire)) return;
    seen = s.generation.load(std::memory_order_acquire);
    run_batch(s, slot);  // the batch's fields stay fixed until every thread is out
    if (s.active.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      const std::lock_guard lock(s.mutex);  // so that run() cannot miss this between test and wait
      s.done.notify_all();
    }
  }
}

class ThreadsPool final : public Pool {
 public:
  ThreadsPool(const Workload& workload, int workers, ThreadsPoolOptions options)
      : state_(std::make_shared<ThreadsState>(workload, std::move(options),
                                              static_cast<std::size_t>(workers))) {
    threads_.reserve(static_cast<std::size_t>(workers));
    try {
      for (int i = 0; i < workers; ++i) {
        threads_.emplace_back([state = state_, i] { work(*state, static_cast<std::size_t>(i)); });
      }
    } catch (const std::system_error& e) {
      // The limit is read while the threads started still count against it.
      const std::string why = resource_error_text(Want::thread, e.code().value());
      stop_and_join();  // the threads already started must not outlive a pool that failed
      throw std::runtime_error(
          fmt::format("could not start thread {} of {}: {}", threads_.size() + 1, workers, why));
    } catch (const std::bad_alloc&) {
      const std::string why = limit_reason(Want::memory, ENOMEM);
      stop_and_join();
      throw std::runtime_error(fmt::format("could not start thread {} of {}: out of memory ({})",
                                           threads_.size() + 1, workers, why));
    }
    // Warm: every thread exists and is parked on the queue before the clock can start.
    std::unique_lock lock(state_->mutex);
    state_->done.wait(lock, [&] { return state_->parked == threads_.size(); });
  }

  ~ThreadsPool() override {
    if (hung_) {
      // Joining would wait for a task that may never end. The threads own what they use; the
      // process is about to report the hung trial and exit.
      close();  // a thread whose task returns after all exits instead of parking
      for (auto& t : threads_) t.detach();
    } else {
      stop_and_join();
    }
  }

  BatchResult run(std::size_t tasks, const RunControl& control) override {
    if (aborted_) throw std::logic_error("threads: a pool whose batch was cut short cannot run");
    ThreadsState& s = *state_;
    const auto started = Clock::now();
    const auto deadline = deadline_of(control, started);
    s.results.assign(tasks, TaskResult{});
    s.tasks = tasks;
    s.next.store(0, std::memory_order_relaxed);
    s.quit_batch.store(false, std::memory_order_relaxed);
    s.active.store(threads_.size(), std::memory_order_relaxed);
    s.t0 = Clock::now();
    s.generation.fetch_add(1, std::memory_order_release);  // publishes all of the above
    s.generation.notify_all();
    std::unique_lock lock(s.mutex);
    const auto finished = [&] { return s.active.load(std::memory_order_acquire) == 0; };
    if (!wait_until_done(s.done, lock, control.stop, deadline, finished)) {
      // No new tasks; the ones in flight get the grace period to end (a stop must end the run
      // within seconds, so it gets no more than a timeout does).
      aborted_ = true;
      abandon_batch(lock, s.done, finished, s.quit_batch, s.slots, s.results, control, started,
                    deadline,
                    s.sequential ? "the thread finished its task in flight and took no more"
                                 : "the threads finished their tasks in flight and took no more",
                    hung_);
    }
    BatchResult batch = batch_of(std::move(s.results));
    if (s.sequential) batch.max_in_flight = tasks > 0 ? 1 : 0;
    return batch;
  }

 private:
  // Wakes every parked thread to exit.
  void close() {
    state_->closing.store(true, std::memory_order_release);
    state_->generation.fetch_add(1, std::memory_order_release);
    state_->generation.notify_all();
  }

  void stop_and_join() {
    close();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  std::shared_ptr<ThreadsState> state_;
  std::vector<std::thread> threads_;
  bool aborted_ = false;  // a batch was cut short: the pool may only be destroyed
  bool hung_ = false;     // threads are stuck in tasks: detach, never join
};

class ThreadsModel final : public Model {
 public:
  std::unique_ptr<Pool> start(const Workload& workload, int workers,
                              const ModelOptions&) const override {
    check_workers(workers);
    return make_threads_pool(workload, workers, {});
  }
};

}  // namespace

ModelEntry model_threads() {
  return {"threads", "a fixed pool of W std::threads over one task queue",
          [] { return std::make_unique<ThreadsModel>(); }};
}

std::unique_ptr<Pool> make_threads_pool(const Workload& workload, int workers,
                                        ThreadsPoolOptions options) {
  return std::make_unique<ThreadsPool>(workload, workers, std::move(options));
}

}  // namespace scalelab::detail
