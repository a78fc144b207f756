// The pool of a threading runtime (runtime_pool.hpp): one driver thread that owns the runtime
// and hands it each batch.

#include "models/runtime_pool.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <stop_token>
#include <system_error>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "models/builtin.hpp"

namespace scalelab::detail {
namespace {

using Clock = std::chrono::steady_clock;

// Everything the driver thread uses, owned jointly by it and the pool: a driver abandoned in a
// hung batch never touches freed memory.
struct RuntimeState {
  RuntimeState(const Workload& w, int workers, RuntimeFactory f)
      : workload(w), slots(static_cast<std::size_t>(workers)), make(std::move(f)) {}

  const Workload& workload;
  std::vector<TaskSlot> slots;
  RuntimeFactory make;
  std::unique_ptr<TaskRuntime> runtime;  // the driver thread's only
  std::mutex mutex;
  std::condition_variable_any wake;  // _any: its wait also returns on a stop request
  std::condition_variable_any done;
  bool started = false;     // the runtime started, or failed to
  std::string start_error;  // why it failed to
  bool busy = false;        // a batch is running
  std::uint64_t generation = 0;
  std::vector<TaskResult> results;
  std::size_t tasks = 0;
  std::string batch_error;              // the runtime itself threw during the batch
  std::atomic<bool> quit_batch{false};  // the batch timed out or was stopped: take no new task
};

// One batch on the driver thread. The clock starts as the batch is handed to the runtime, so
// the runtime's own dispatch is in the wall time, as the threads pool's is.
std::string drive_batch(RuntimeState& s, std::vector<TaskResult>& results, std::size_t tasks) {
  const auto t0 = Clock::now();
  try {
    s.runtime->for_each(tasks, [&](std::size_t task, int slot) {
      if (s.quit_batch.load(std::memory_order_relaxed) || task >= results.size()) return;
      TaskSlot* mine = slot >= 0 && static_cast<std::size_t>(slot) < s.slots.size()
                           ? &s.slots[static_cast<std::size_t>(slot)]
                           : nullptr;
      if (mine) mine->task.store(task, std::memory_order_relaxed);
      run_task_blocking(s.workload, task, results[task], t0);
      if (mine) mine->task.store(kNoTask, std::memory_order_relaxed);
    });
  } catch (...) {
    return current_exception_text();
  }
  return {};
}

void drive(RuntimeState& s, int workers, std::stop_token stop) {
  std::string error;
  try {
    s.runtime = s.make();
    s.runtime->start(workers);
  } catch (...) {
    error = current_exception_text();
  }
  std::unique_lock lock(s.mutex);
  s.started = true;
  s.start_error = error;
  s.done.notify_all();
  if (!error.empty()) return;
  std::uint64_t seen = s.generation;
  while (s.wake.wait(lock, stop, [&] { return s.generation != seen; })) {
    seen = s.generation;
    auto& results = s.results;  // fixed until the batch is done
    const std::size_t tasks = s.tasks;
    lock.unlock();
    std::string batch_error = drive_batch(s, results, tasks);
    lock.lock();
    s.batch_error = std::move(batch_error);
    s.busy = false;
    s.done.notify_all();
  }
}

class RuntimePool final : public Pool {
 public:
  RuntimePool(const Workload& workload, int workers, RuntimeFactory make, std::string name)
      : state_(std::make_shared<RuntimeState>(workload, workers, std::move(make))),
        name_(std::move(name)) {
    try {
      driver_ = std::jthread([state = state_, workers](std::stop_token stop) {
        drive(*state, workers, std::move(stop));
      });
    } catch (const std::system_error& e) {
      throw std::runtime_error(fmt::format("{}: could not start its driver thread: {}", name_,
                                           resource_error_text(Want::thread, e.code().value())));
    }
    // Warm: the runtime's workers exist and have run once before the clock can start.
    std::unique_lock lock(state_->mutex);
    state_->done.wait(lock, [&] { return state_->started; });
    if (!state_->start_error.empty()) {
      const std::string why = state_->start_error;
      lock.unlock();
      stop_and_join();
      throw std::runtime_error(
          fmt::format("{}: could not start {} workers: {}", name_, workers, why));
    }
  }

  ~RuntimePool() override {
    if (hung_) {
      // The runtime's workers are stuck in tasks; the driver owns what they use.
      driver_.request_stop();
      driver_.detach();
    } else {
      stop_and_join();
    }
  }

  BatchResult run(std::size_t tasks, const RunControl& control) override {
    if (aborted_) {
      throw std::logic_error(fmt::format("{}: a pool whose batch was cut short cannot run", name_));
    }
    RuntimeState& s = *state_;
    const auto started = Clock::now();
    const auto deadline = deadline_of(control, started);
    {
      std::lock_guard lock(s.mutex);
      s.results.assign(tasks, TaskResult{});
      s.tasks = tasks;
      s.quit_batch.store(false, std::memory_order_relaxed);
      s.busy = true;
      ++s.generation;
    }
    s.wake.notify_all();
    std::unique_lock lock(s.mutex);
    const auto idle = [&] { return !s.busy; };
    if (!wait_until_done(s.done, lock, control.stop, deadline, idle)) {
      aborted_ = true;
      abandon_batch(lock, s.done, idle, s.quit_batch, s.slots, s.results, control, started,
                    deadline, "the workers finished their tasks in flight and took no more", hung_);
    }
    if (!s.batch_error.empty()) {
      aborted_ = true;
      throw std::runtime_error(fmt::format("{}: {}", name_, s.batch_error));
    }
    return batch_of(std::move(s.results));
  }

 private:
  void stop_and_join() {
    driver_.request_stop();  // wakes the wait in drive()
    if (driver_.joinable()) driver_.join();
  }

  std::shared_ptr<RuntimeState> state_;
  std::string name_;
  std::jthread driver_;
  bool aborted_ = false;  // a batch was cut short: the pool may only be destroyed
  bool hung_ = false;     // the runtime's workers are stuck in tasks: detach, never join
};

}  // namespace

std::unique_ptr<Pool> make_runtime_pool(const Workload& workload, int workers, RuntimeFactory make,
                                        std::string name) {
  return std::make_unique<RuntimePool>(workload, workers, std::move(make), std::move(name));
}

}  // namespace scalelab::detail
