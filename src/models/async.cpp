// `async`: one thread, one event loop (scalelab::Loop: its own timer queue and frame pool over
// an Asio io_context), C++20 coroutines. W is the concurrency limit, as an asyncio.Semaphore(W)
// would set it: W lanes each take the next task when their last one ends, so at most W tasks
// are ever in flight. CPU work runs on the loop and blocks it, exactly as it does in asyncio.
//
// The loop runs on a thread of the pool's own, so that the caller can enforce a timeout or a
// stop request: it cancels the batch (every task in flight is destroyed and recorded as
// cancelled), stops the loop if that does not end it, and abandons a loop that CPU work keeps
// blocked (hung), as the threads pool abandons a thread.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <asio/post.hpp>

#include "models/builtin.hpp"
#include "scalelab/async.hpp"
#include "scalelab/parse.hpp"

namespace scalelab::detail {
namespace {

using Clock = std::chrono::steady_clock;

struct AsyncState;

// One of the W coroutine slots: runs a task, and when it ends takes the next, so that at most W
// tasks are in flight. Not a coroutine itself: its task's frame tells it when it ends
// (TaskOwner), and it hands the loop the next task's frame by symmetric transfer.
struct Lane final : TaskOwner {
  std::coroutine_handle<> task_ended() noexcept override;
  // The next task's coroutine, created and ready to resume; null when there is none to take.
  std::coroutine_handle<> take_next() noexcept;

  AsyncState* state = nullptr;
  std::atomic<std::size_t> task{kNoTask};  // read by the caller when a batch is cut short
  Async<std::uint64_t> running;
};

// Everything the loop thread uses, owned jointly by the pool and that thread, so that a loop
// abandoned in a hung task never touches freed memory.
struct AsyncState {
  AsyncState(const Workload& w, std::size_t lanes)
      : workload(w), workers(lanes), coarse_ends(w.bound() == Bound::wait) {}

  const Workload& workload;
  const std::size_t workers;
  // Tasks that only wait: the ends of many tasks in one turn may share a clock reading.
  const bool coarse_ends;

  // Guarded by mutex: the hand-over between the caller and the loop thread.
  std::mutex mutex;
  std::condition_variable_any changed;
  bool started = false;
  bool quit = false;
  std::uint64_t requested = 0;  // batches asked for
  std::uint64_t finished = 0;   // the last batch the loop finished
  std::size_t tasks = 0;
  std::vector<TaskResult> results;
  double wall_s = 0;
  int max_in_flight = 0;
  double longest_turn_s = 0;
  double frame_peak_bytes = 0;

  // Set by the caller when it cuts a batch short: no lane starts another task, even before the
  // cancellation reaches the loop (a blocked loop that wakes up must not run more of a
  // workload its caller may be about to destroy).
  std::atomic<bool> stop_taking{false};

  // Loop thread only. The loop comes first: the lanes' frames live in its pool, so they are
  // destroyed before it is.
  Loop loop;
  std::uint64_t current = 0;  // the batch being run
  std::size_t batch_tasks = 0;
  std::size_t next = 0;
  int in_flight = 0;
  int most_in_flight = 0;
  std::vector<TaskResult>* batch_results = nullptr;
  Clock::time_point t0;
  // The frame of the task that ended last: a frame cannot free itself while it is suspending.
  Async<std::uint64_t> retired;
  std::unique_ptr<Lane[]> lanes;
  std::size_t lane_count = 0;
};

std::coroutine_handle<> Lane::take_next() noexcept {
  AsyncState& s = *state;
  while (!s.loop.cancelled() && !s.stop_taking.load(std::memory_order_relaxed) &&
         s.next < s.batch_tasks) {
    const std::size_t index = s.next++;
    TaskResult& result = (*s.batch_results)[index];
    result.start_s = seconds_since(s.t0, s.loop.now());
    try {
      running = s.workload.run_async(index, s.loop);
    } catch (...) {  // its frame could not be allocated
      result.error = current_exception_text();
      result.end_s = result.start_s;
      ++result.runs;
      continue;
    }
    running.handle().promise().set_owner(this);
    task.store(index, std::memory_order_relaxed);
    s.most_in_flight = std::max(s.most_in_flight, ++s.in_flight);
    return running.handle();
  }
  task.store(kNoTask, std::memory_order_relaxed);
  return nullptr;
}

std::coroutine_handle<> Lane::task_ended() noexcept {
  AsyncState& s = *state;
  TaskResult& result = (*s.batch_results)[task.load(std::memory_order_relaxed)];
  auto& promise = running.handle().promise();
  if (promise.threw()) {
    try {
      std::rethrow_exception(promise.error());
    } catch (...) {
      result.error = s.loop.cancelled() ? "cancelled" : current_exception_text();
    }
  } else {
    result.checksum = promise.value();
  }
  if (!s.coarse_ends) s.loop.update_time();  // what runs next starts after this task
  result.end_s = seconds_since(s.t0, s.coarse_ends ? s.loop.end_time() : s.loop.now());
  ++result.runs;
  --s.in_flight;
  s.retired = std::move(running);  // frees the frame before it (which has finished suspending)
  const auto next = take_next();
  return next ? next : std::noop_coroutine();
}

// On the loop thread: ends batch `batch` early, if it is still the one running.
// Each task in flight is recorded as cancelled and its frame destroyed (and with it whatever
// it awaited); the lanes take no more.
void cancel(AsyncState& s, std::uint64_t batch) {
  if (s.current != batch || s.loop.cancelled()) return;
  s.loop.cancel([&s] {
    const double end_s = seconds_since(s.t0, Clock::now());
    for (std::size_t i = 0; i < s.lane_count; ++i) {
      Lane& lane = s.lanes[i];
      const std::size_t task = lane.task.load(std::memory_order_relaxed);
      if (task == kNoTask) continue;
      TaskResult& result = (*s.batch_results)[task];
      result.error = "cancelled";
      result.end_s = end_s;
      ++result.runs;
      --s.in_flight;
      lane.running.reset();
      lane.task.store(kNoTask, std::memory_order_relaxed);
    }
  });
}

void run_batch(AsyncState& s, std::uint64_t batch, std::size_t tasks,
               std::vector<TaskResult>& results) {
  s.current = batch;
  s.batch_tasks = tasks;
  s.batch_results = &results;
  s.next = 0;
  s.in_flight = 0;
  s.most_in_flight = 0;
  s.loop.clear();
  {
    // The caller reads the lanes when it cuts a batch short.
    const std::size_t count = std::min(s.workers, tasks);
    auto lanes = std::make_unique<Lane[]>(count);
    std::lock_guard lock(s.mutex);
    s.lanes = std::move(lanes);
    s.lane_count = count;
  }
  s.t0 = Clock::now();
  s.loop.run_turns([&] {
    for (std::size_t i = 0; i < s.lane_count; ++i) {
      s.lanes[i].state = &s;
      if (const auto task = s.lanes[i].take_next()) task.resume();
    }
  });
  const double wall_s = seconds_since(s.t0, Clock::now());
  // A stopped loop leaves tasks suspended: their frames go now, on this thread.
  s.retired.reset();
  std::lock_guard lock(s.mutex);
  s.lanes.reset();
  s.lane_count = 0;
  s.loop.clear();
  s.wall_s = wall_s;
  s.max_in_flight = s.most_in_flight;
  s.longest_turn_s = s.loop.longest_turn_s();
  s.frame_peak_bytes = static_cast<double>(s.loop.frame_peak_bytes());
}

// The loop thread: warm up, then run each batch the caller asks for.
void serve(AsyncState& s) {
  // Warm: run the loop and its timer service once, so that their first-use costs (the
  // reactor, the timer descriptor) fall outside the clock.
  {
    s.loop.run([](Loop& loop) -> Async<std::uint64_t> {
      co_await loop.sleep(std::chrono::nanoseconds(0));
      co_return 0;
    }(s.loop));
  }
  std::unique_lock lock(s.mutex);
  s.started = true;
  s.changed.notify_all();
  for (;;) {
    s.changed.wait(lock, [&] { return s.quit || s.requested != s.finished; });
    if (s.quit) return;
    const std::uint64_t batch = s.requested;
    const std::size_t tasks = s.tasks;
    auto& results = s.results;
    lock.unlock();
    run_batch(s, batch, tasks, results);
    lock.lock();
    s.finished = batch;
    s.changed.notify_all();
  }
}

class AsyncPool final : public Pool {
 public:
  AsyncPool(const Workload& workload, int workers)
      : state_(std::make_shared<AsyncState>(workload, static_cast<std::size_t>(workers))) {
    try {
      loop_ = std::jthread([state = state_] { serve(*state); });
    } catch (const std::system_error& e) {
      throw std::runtime_error(fmt::format("could not start the event loop's thread: {}",
                                           resource_error_text(Want::thread, e.code().value())));
    }
    std::unique_lock lock(state_->mutex);
    state_->changed.wait(lock, [&] { return state_->started; });
  }

  ~AsyncPool() override {
    {
      std::lock_guard lock(state_->mutex);
      state_->quit = true;
    }
    state_->changed.notify_all();
    // A loop blocked in a task cannot be joined; it owns what it uses.
    if (hung_) loop_.detach();
  }

  BatchResult run(std::size_t tasks, const RunControl& control) override {
    if (aborted_) throw std::logic_error("async: a pool whose batch was cut short cannot run");
    AsyncState& s = *state_;
    const auto deadline = deadline_of(control, Clock::now());
    std::unique_lock lock(s.mutex);
    s.results.assign(tasks, TaskResult{});
    s.tasks = tasks;
    const std::uint64_t batch = ++s.requested;
    s.changed.notify_all();
    const auto finished = [&] { return s.finished == batch; };
    if (!wait_until_done(s.changed, lock, control.stop, deadline, finished)) {
      aborted_ = true;
      cut_short(lock, batch, control, deadline);  // throws
    }
    BatchResult result;
    result.tasks = std::move(s.results);
    result.wall_s = s.wall_s;
    result.max_in_flight = s.max_in_flight;
    result.counters["loop_longest_turn_s"] = s.longest_turn_s;
    result.counters["loop_frame_peak_bytes"] = s.frame_peak_bytes;
    return result;
  }

 private:
  // Cancels the lanes; stops the loop if they do not end within the grace period; abandons it
  // if even that does not end the batch (CPU work blocks the loop). Always throws BatchAborted.
  [[noreturn]] void cut_short(std::unique_lock<std::mutex>& lock, std::uint64_t batch,
                              const RunControl& control, Clock::time_point deadline) {
    AsyncState& s = *state_;
    s.stop_taking.store(true, std::memory_order_relaxed);
    const bool stopped = control.stop.stop_requested() && Clock::now() < deadline;
    std::vector<std::size_t> running;
    for (std::size_t i = 0; i < s.lane_count; ++i) {  // lanes are set and reset under the lock
      const std::size_t task = s.lanes[i].task.load(std::memory_order_relaxed);
      if (task != kNoTask) running.push_back(task);
    }
    std::sort(running.begin(), running.end());
    const std::string what =
        stopped ? std::string("interrupted")
                : fmt::format("timed out after {}", format_duration(control.timeout));
    const std::string tasks = running.empty() ? "" : ": " + task_list(running) + " still running";
    const auto finished = [&] { return s.finished == batch; };
    // A raw pointer: the handler runs on the loop thread, which co-owns the state; a copy of
    // the shared_ptr left in a stopped loop's queue would keep the state alive forever.
    AsyncState* const state = &s;
    asio::post(s.loop.io(), [state, batch] { cancel(*state, batch); });
    if (wait_until_done(s.changed, lock, {}, later(Clock::now(), control.grace), finished)) {
      throw BatchAborted(stopped ? AbortReason::interrupted : AbortReason::timed_out,
                         fmt::format("{}{}; cancelled", what, tasks));
    }
    // A lane ignored its cancellation: stop the loop; its suspended coroutines are destroyed
    // with the pool.
    s.loop.io().stop();
    if (wait_until_done(s.changed, lock, {}, later(Clock::now(), control.grace), finished)) {
      throw BatchAborted(stopped ? AbortReason::interrupted : AbortReason::timed_out,
                         fmt::format("{}{}; cancelled, and the event loop stopped", what, tasks));
    }
    hung_ = true;
    throw BatchAborted(AbortReason::hung,
                       fmt::format("hung: {} still running after {}; a task blocks the event "
                                   "loop (CPU work cannot be cancelled)",
                                   running.empty() ? std::string("tasks") : task_list(running),
                                   control.timeout.count() > 0 ? format_duration(control.timeout)
                                                               : std::string("the stop request")));
  }

  std::shared_ptr<AsyncState> state_;
  std::jthread loop_;
  bool aborted_ = false;  // a batch was cut short: the pool may only be destroyed
  bool hung_ = false;     // the loop is stuck in a task: detach, never join
};

class AsyncModel final : public Model {
 public:
  int cpu_parallelism(int) const override { return 1; }  // one loop: CPU work blocks it
  std::unique_ptr<Pool> start(const Workload& workload, int workers,
                              const ModelOptions&) const override {
    check_workers(workers);
    return std::make_unique<AsyncPool>(workload, workers);
  }
};

}  // namespace

ModelEntry model_async() {
  return {"async", "one thread, one Asio event loop, C++20 coroutines, W = tasks in flight",
          [] { return std::make_unique<AsyncModel>(); }};
}

}  // namespace scalelab::detail
