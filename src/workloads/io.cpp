// `io`: waiting without computing. Blocking form sleeps the thread; the awaitable form awaits a
// sleep on the event loop, so one thread can overlap every wait.

#include <thread>

#include "scalelab/error.hpp"
#include "scalelab/gil.hpp"
#include "workloads/builtin.hpp"

namespace scalelab::detail {
namespace {

class IoWorkload final : public Workload {
 public:
  explicit IoWorkload(WorkloadSpec spec)
      : spec_(std::move(spec)), wait_(spec_.params.duration("io_wait_s")) {}
  const WorkloadSpec& spec() const override { return spec_; }
  Bound bound() const override { return Bound::wait; }
  std::uint64_t run(std::size_t task) const override {
    {
      const GilReleased released;  // a blocking wait lets other interpreter threads run
      std::this_thread::sleep_for(wait_);
    }
    return io_checksum(task);
  }
  Async<std::uint64_t> run_async(std::size_t task, Loop& loop) const override {
    co_await loop.sleep(wait_);
    co_return io_checksum(task);
  }
  std::uint64_t expected_checksum(std::size_t task) const override { return io_checksum(task); }

 private:
  WorkloadSpec spec_;
  std::chrono::nanoseconds wait_;
};

}  // namespace

std::uint64_t io_checksum(std::size_t task) {
  return 0x9e3779b97f4a7c15ULL ^ task;
}

Param io_wait_param() {
  Param wait{"io-wait", ParamKind::duration, "20ms",
             "io, python-io and socket workloads: how long each task waits (socket: the server, "
             "before it replies; 0 for none)",
             "I/O wait {} per task"};
  wait.allow_zero = true;  // a socket round trip without a wait; io and python-io refuse 0
  return wait;
}

WorkloadEntry workload_io() {
  return {"io",
          "waits --io-wait: a sleep in blocking models, an awaited timer in async",
          [](const WorkloadSpec& spec) -> std::unique_ptr<Workload> {
            if (spec.params.duration("io_wait_s").count() <= 0) {
              throw Error("--io-wait: the io workload needs a wait above 0");
            }
            return std::make_unique<IoWorkload>(spec);
          },
          {io_wait_param()}};
}

}  // namespace scalelab::detail
