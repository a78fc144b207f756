// `mixed`: each task computes for part of its time and waits for the rest (--cpu-fraction of
// --task-time), so the line between CPU-bound and I/O-bound can be swept, and the convoy
// effect shows: under the `gil` model a thread's computing delays the others' waking.

#include <thread>

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "scalelab/gil.hpp"
#include "workloads/builtin.hpp"

namespace scalelab::detail {
namespace {

class MixedWorkload final : public Workload {
 public:
  explicit MixedWorkload(WorkloadSpec spec) : spec_(std::move(spec)), expected_(spec_.cpu_iters) {}
  const WorkloadSpec& spec() const override { return spec_; }
  Bound bound() const override {
    // Any waiting part overlaps past the core count, so worker counts go up to the task count
    // as for io; only a task with no waiting (--cpu-fraction 1) is CPU-bound.
    return spec_.io_wait.count() == 0 ? Bound::cpu : Bound::wait;
  }
  std::uint64_t run(std::size_t task) const override {
    const std::uint64_t checksum = cpu_loop(spec_.cpu_iters, task);
    if (spec_.io_wait.count() > 0) {
      const GilReleased released;
      std::this_thread::sleep_for(spec_.io_wait);
    }
    return checksum;
  }
  asio::awaitable<std::uint64_t> run_async(std::size_t task) const override {
    const std::uint64_t checksum = cpu_loop(spec_.cpu_iters, task);  // blocks the loop
    if (spec_.io_wait.count() > 0) {
      asio::steady_timer timer(co_await asio::this_coro::executor, spec_.io_wait);
      co_await timer.async_wait(asio::use_awaitable);
    }
    co_return checksum;
  }
  std::uint64_t expected_checksum(std::size_t task) const override { return expected_(task); }

 private:
  WorkloadSpec spec_;
  CpuLoopChecksums expected_;
};

}  // namespace

std::unique_ptr<Workload> make_mixed_workload(const WorkloadSpec& spec) {
  return std::make_unique<MixedWorkload>(spec);
}

}  // namespace scalelab::detail
