// The async model's event loop (src/models/loop.cpp): its timer queue, its frame pool, its
// clock and its cancellation; and the async model at 100k tasks in flight.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <asio/post.hpp>

#include "scalelab/async.hpp"
#include "scalelab/model.hpp"
#include "support/helpers.hpp"

namespace scalelab {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

Async<int> sleep_then(Loop& loop, std::chrono::nanoseconds d, int value, std::vector<int>& order) {
  co_await loop.sleep(d);
  order.push_back(value);
  co_return value;
}

TEST(Loop, SleepsEndInDeadlineOrder) {
  Loop loop;
  std::vector<int> order;
  // Started one after another (each awaited before the next starts), so the order is theirs.
  const auto t0 = Clock::now();
  const int sum = loop.run([](Loop& l, std::vector<int>& o) -> Async<int> {
    int s = 0;
    s += co_await sleep_then(l, 3ms, 3, o);
    s += co_await sleep_then(l, 1ms, 1, o);
    co_return s;
  }(loop, order));
  EXPECT_EQ(sum, 4);
  EXPECT_EQ(order, (std::vector<int>{3, 1}));
  EXPECT_GE(Clock::now() - t0, 4ms);
}

// Top-level tasks that all sleep at once: the loop resumes them in deadline order across more
// lengths than it keeps runs for.
class Sleeper final : public detail::TaskOwner {
 public:
  std::coroutine_handle<> task_ended() noexcept override {
    ++ended_;
    return std::noop_coroutine();
  }
  int ended_ = 0;
};

TEST(Loop, ManySleepsOfManyLengthsEndInDeadlineOrder) {
  Loop loop;
  std::vector<int> order;
  std::vector<Async<int>> tasks;
  Sleeper owner;
  const std::vector<int> lengths_ms = {30, 10, 20, 5, 1, 2, 3, 4, 6, 7, 8, 9, 11, 25, 12};
  loop.run_turns([&] {
    for (int ms : lengths_ms) {
      tasks.push_back(sleep_then(loop, std::chrono::milliseconds(ms), ms, order));
      tasks.back().handle().promise().set_owner(&owner);
      tasks.back().handle().resume();
    }
  });
  EXPECT_EQ(owner.ended_, static_cast<int>(lengths_ms.size()));
  std::vector<int> sorted = lengths_ms;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(order, sorted);
  EXPECT_EQ(loop.sleepers(), 0u);
}

TEST(Loop, AZeroSleepWaitsForTheNextTurnInsteadOfSpinning) {
  Loop loop;
  const int turns = loop.run([](Loop& l) -> Async<int> {
    int n = 0;
    for (; n < 1000; ++n) co_await l.sleep(0ns);
    co_return n;
  }(loop));
  EXPECT_EQ(turns, 1000);
}

TEST(Loop, ExceptionsReachTheAwaitingTask) {
  Loop loop;
  const auto thrower = [](Loop& l) -> Async<int> {
    co_await l.sleep(1ms);
    throw std::runtime_error("boom");
  };
  EXPECT_EQ(loop.run([](Loop& l, auto make) -> Async<std::string> {
    try {
      co_await make(l);
    } catch (const std::runtime_error& e) {
      co_return std::string(e.what());
    }
    co_return std::string("no exception");
  }(loop, thrower)),
            "boom");
  EXPECT_THROW(loop.run(thrower(loop)), std::runtime_error);
}

// Counts destructions: what a task's frame holds is destroyed with it when it is cancelled.
struct Alive {
  explicit Alive(int& count) : count_(count) { ++count_; }
  Alive(const Alive&) = delete;
  Alive& operator=(const Alive&) = delete;
  ~Alive() { --count_; }
  int& count_;
};

TEST(Loop, CancelDestroysEverySleeperAndRefusesNewSleeps) {
  Loop loop;
  std::vector<Async<int>> tasks;
  Sleeper owner;
  int alive = 0;
  const auto forever = [](Loop& l, int& count) -> Async<int> {
    const Alive guard(count);
    co_await l.sleep_until(Clock::time_point::max());
    co_return 0;
  };
  std::jthread canceller([&] {
    std::this_thread::sleep_for(50ms);
    asio::post(loop.io(), [&] { loop.cancel([&] { tasks.clear(); }); });
  });
  const auto t0 = Clock::now();
  loop.run_turns([&] {
    for (int i = 0; i < 1000; ++i) {
      tasks.push_back(forever(loop, alive));
      tasks.back().handle().promise().set_owner(&owner);
      tasks.back().handle().resume();
    }
  });
  EXPECT_LT(Clock::now() - t0, 10s);
  EXPECT_EQ(owner.ended_, 0);  // destroyed, not ended
  EXPECT_EQ(alive, 0);
  EXPECT_EQ(loop.sleepers(), 0u);
  EXPECT_TRUE(loop.cancelled());
  // A sleep begun after the cancellation throws at once.
  EXPECT_THROW(loop.run([](Loop& l) -> Async<int> {
    co_await l.sleep(1h);
    co_return 0;
  }(loop)),
               Cancelled);
  loop.clear();
  EXPECT_FALSE(loop.cancelled());
}

TEST(Loop, FramesAreReusedSoMemoryFollowsTasksInFlightNotTasksRun) {
  Loop loop;
  const int n = loop.run([](Loop& l) -> Async<int> {
    int done = 0;
    for (int i = 0; i < 10000; ++i) {
      done += co_await [](Loop& inner) -> Async<int> {
        co_await inner.sleep(0ns);
        co_return 1;
      }(l);
    }
    co_return done;
  }(loop));
  EXPECT_EQ(n, 10000);
  EXPECT_LE(loop.frame_peak_bytes(), 1024u);  // two or three frames, never ten thousand
}

TEST(Loop, RunRefusesATaskThatCanNeverEnd) {
  Loop loop;
  // Awaits a coroutine handle that nobody will resume: nothing keeps the loop turning.
  struct Never {
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    void await_resume() const noexcept {}
  };
  EXPECT_THROW(loop.run([](Loop&) -> Async<int> {
    co_await Never{};
    co_return 1;
  }(loop)),
               std::logic_error);
}

// The async model at scale: every task runs exactly once with 100k in flight.
TEST(AsyncAtScale, RunsEachOf100kConcurrentTasksExactlyOnce) {
  const auto workload = make_workload(testing::io_spec(20ms));
  const auto pool = testing::start_pool("async", *workload, 100000);
  const BatchResult batch = pool->run(100000);
  ASSERT_EQ(batch.tasks.size(), 100000u);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < batch.tasks.size(); ++i) {
    const auto& t = batch.tasks[i];
    if (t.runs != 1 || !t.error.empty() || t.checksum != workload->expected_checksum(i) ||
        t.end_s - t.start_s < 0.020 - 1e-6) {
      ++wrong;
    }
  }
  EXPECT_EQ(wrong, 0u);
  EXPECT_EQ(batch.max_in_flight, 100000);
  EXPECT_GE(batch.wall_s, 0.020);
}

TEST(AsyncAtScale, MoreTasksThanLanesStillRunOnceEachWithWInFlight) {
  const auto workload = make_workload(testing::io_spec(1ms));
  const auto pool = testing::start_pool("async", *workload, 1000);
  const BatchResult batch = pool->run(20000);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < batch.tasks.size(); ++i) {
    wrong += batch.tasks[i].runs != 1 || batch.tasks[i].checksum != workload->expected_checksum(i);
  }
  EXPECT_EQ(wrong, 0u);
  EXPECT_EQ(batch.max_in_flight, 1000);
}

// Runs 100k async tasks of 60 s under `control`, which must cut the batch short within 20 s;
// returns why it was cut short and what it said.
std::pair<AbortReason, std::string> cut_short_at_100k(const RunControl& control) {
  const auto workload = make_workload(testing::io_spec(60s));
  const auto pool = testing::start_pool("async", *workload, 100000);
  const auto t0 = Clock::now();
  std::pair<AbortReason, std::string> why{AbortReason::hung, "the batch ended by itself"};
  try {
    (void)pool->run(100000, control);
  } catch (const BatchAborted& e) {
    why = {e.reason(), e.what()};
  }
  EXPECT_LT(Clock::now() - t0, 20s);
  return why;
}

TEST(AsyncAtScale, TheTimeoutCancels100kTasksInFlight) {
  RunControl control;
  control.timeout = 300ms;
  const auto [reason, what] = cut_short_at_100k(control);
  EXPECT_EQ(reason, AbortReason::timed_out) << what;
  EXPECT_NE(what.find("timed out after 300ms"), std::string::npos) << what;
  EXPECT_NE(what.find("still running; cancelled"), std::string::npos) << what;
}

TEST(AsyncAtScale, AStopRequestCancels100kTasksInFlight) {
  std::stop_source stop;
  RunControl control;
  control.stop = stop.get_token();
  std::jthread stopper([&] {
    std::this_thread::sleep_for(200ms);
    stop.request_stop();
  });
  const auto [reason, what] = cut_short_at_100k(control);
  EXPECT_EQ(reason, AbortReason::interrupted) << what;
}

}  // namespace
}  // namespace scalelab
