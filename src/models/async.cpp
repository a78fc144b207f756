// `async`: one thread, one Asio io_context, C++20 coroutines. W is the concurrency limit, as
// an asyncio.Semaphore(W) would set it: W coroutines ("lanes") each take the next task when
// their last one ends, so at most W tasks are ever in flight. CPU work runs on the loop and
// blocks it, exactly as it does in asyncio.

#include <algorithm>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "models/builtin.hpp"

namespace scalelab::detail {
namespace {

class AsyncPool final : public Pool {
 public:
  AsyncPool(const Workload& workload, int workers)
      : workload_(workload), workers_(static_cast<std::size_t>(workers)), io_(1) {
    // Warm: run the loop and its timer service once, so that their first-use costs (the
    // reactor, the timer descriptor) fall outside the clock.
    asio::steady_timer timer(io_, std::chrono::nanoseconds(0));
    timer.async_wait([](const asio::error_code&) {});
    io_.run();
  }

  BatchResult run(std::size_t tasks) override {
    BatchResult batch;
    batch.tasks.resize(tasks);
    next_ = 0;
    tasks_ = tasks;
    in_flight_ = 0;
    max_in_flight_ = 0;
    io_.restart();
    const auto t0 = std::chrono::steady_clock::now();
    const std::size_t lanes = std::min(workers_, tasks);
    for (std::size_t i = 0; i < lanes; ++i) {
      asio::co_spawn(io_, lane(batch.tasks, t0), asio::detached);
    }
    io_.run();
    batch.wall_s = seconds_since(t0, std::chrono::steady_clock::now());
    batch.max_in_flight = max_in_flight_;
    return batch;
  }

 private:
  asio::awaitable<void> lane(std::vector<TaskResult>& results,
                             std::chrono::steady_clock::time_point t0) {
    while (next_ < tasks_) {
      const std::size_t task = next_++;
      max_in_flight_ = std::max(max_in_flight_, ++in_flight_);
      TaskResult& result = results[task];
      const auto start = std::chrono::steady_clock::now();
      try {
        result.checksum = co_await workload_.run_async(task);
      } catch (const std::exception& e) {
        result.error = e.what();
      } catch (...) {
        result.error = "unknown exception";
      }
      const auto end = std::chrono::steady_clock::now();
      result.start_s = seconds_since(t0, start);
      result.end_s = seconds_since(t0, end);
      ++result.runs;
      --in_flight_;
    }
  }

  const Workload& workload_;
  std::size_t workers_;
  asio::io_context io_;
  // Only touched from the loop's one thread.
  std::size_t next_ = 0;
  std::size_t tasks_ = 0;
  int in_flight_ = 0;
  int max_in_flight_ = 0;
};

class AsyncModel final : public Model {
 public:
  std::unique_ptr<Pool> start(const Workload& workload, int workers,
                              const ModelOptions&) const override {
    check_workers(workers);
    return std::make_unique<AsyncPool>(workload, workers);
  }
};

}  // namespace

std::unique_ptr<Model> make_async_model() {
  return std::make_unique<AsyncModel>();
}

}  // namespace scalelab::detail
