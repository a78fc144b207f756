// Plain threads, the least a pool can do: N std::threads, all started and parked on one atomic
// before the clock, released by a single notify_all (one futex wake), each then sleeping WAIT
// and noting when it woke. The yardstick beside which bench/sleep_accuracy.sh puts the threads
// model (BENCHMARKS.md, issue 14): what is left between the two is the model's own cost; what
// this one shows above WAIT is the kernel's (waking N threads, then N timers).
//
//   thread_sleepers THREADS WAIT_MS   prints: threads=… wall_s=… start_max_s=… notify_s=…

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: thread_sleepers THREADS WAIT_MS\n");
    return 2;
  }
  const auto n = static_cast<std::size_t>(std::strtoull(argv[1], nullptr, 10));
  const std::chrono::milliseconds wait(std::strtoll(argv[2], nullptr, 10));
  std::atomic<std::uint32_t> go{0};
  std::atomic<std::size_t> parked{0};
  std::atomic<std::size_t> ended{0};
  std::vector<Clock::time_point> starts(n), ends(n);
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      parked.fetch_add(1);
      go.wait(0);
      starts[i] = Clock::now();
      std::this_thread::sleep_for(wait);
      ends[i] = Clock::now();
      // Stay until every thread has ended: a thread's exit would take CPU from those still
      // waking (a pool's threads park instead).
      ended.fetch_add(1);
      ended.notify_all();
      go.wait(1);
    });
  }
  while (parked.load() < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // every thread is in its wait
  const auto t0 = Clock::now();
  go.store(1);
  go.notify_all();
  const auto notified = Clock::now();
  for (std::size_t e = ended.load(); e < n; e = ended.load()) ended.wait(e);
  go.store(2);
  go.notify_all();
  for (auto& t : threads) t.join();
  const auto last_start = *std::max_element(starts.begin(), starts.end());
  const auto last_end = *std::max_element(ends.begin(), ends.end());
  std::printf("threads=%zu wall_s=%.6f start_max_s=%.6f notify_s=%.6f\n", n, seconds(last_end - t0),
              seconds(last_start - t0), seconds(notified - t0));
}
