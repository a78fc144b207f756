// Plain Asio, written as its documentation shows: N coroutines, one co_spawn and one
// steady_timer each, all sleeping WAIT at once on one io_context. The yardstick beside which
// bench/high_concurrency.sh puts the async model's own loop (BENCHMARKS.md, issue 14).
//
//   asio_sleepers TASKS WAIT_MS   prints: tasks=… wall_s=… max_rss_kib=… checked=…

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

namespace {

asio::awaitable<void> sleeper(std::size_t task, std::chrono::milliseconds wait,
                              std::vector<std::uint64_t>& done) {
  asio::steady_timer timer(co_await asio::this_coro::executor, wait);
  co_await timer.async_wait(asio::use_awaitable);
  done[task] = 0x9e3779b97f4a7c15ULL ^ task;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: asio_sleepers TASKS WAIT_MS\n");
    return 2;
  }
  const auto tasks = static_cast<std::size_t>(std::strtoull(argv[1], nullptr, 10));
  const std::chrono::milliseconds wait(std::strtoll(argv[2], nullptr, 10));
  std::vector<std::uint64_t> done(tasks, 0);
  asio::io_context io(1);
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < tasks; ++i)
    asio::co_spawn(io, sleeper(i, wait, done), asio::detached);
  io.run();
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::size_t checked = 0;
  for (std::size_t i = 0; i < tasks; ++i) checked += done[i] == (0x9e3779b97f4a7c15ULL ^ i);
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  std::printf("tasks=%zu wall_s=%.6f max_rss_kib=%ld checked=%zu\n", tasks, wall_s, usage.ru_maxrss,
              checked);
  return checked == tasks ? 0 : 1;
}
