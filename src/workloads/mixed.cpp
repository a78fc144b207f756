// `mixed`: each task computes for part of its time and waits for the rest (--cpu-fraction of
// --task-time), so the line between CPU-bound and I/O-bound can be swept, and the convoy
// effect shows: under the `gil` model a thread's computing delays the others' waking.

#include <thread>

#include "scalelab/gil.hpp"
#include "workloads/builtin.hpp"

namespace scalelab::detail {
namespace {

class MixedWorkload final : public Workload {
 public:
  explicit MixedWorkload(WorkloadSpec spec)
      : spec_(std::move(spec)),
        iters_(spec_.params.count("cpu_iters")),
        wait_(spec_.params.duration("io_wait_s")),
        expected_(iters_) {}
  const WorkloadSpec& spec() const override { return spec_; }
  Bound bound() const override {
    // Any waiting part overlaps past the core count, so worker counts go up to the task count
    // as for io; only a task with no waiting (--cpu-fraction 1) is CPU-bound.
    return wait_.count() == 0 ? Bound::cpu : Bound::wait;
  }
  std::uint64_t run(std::size_t task) const override {
    const std::uint64_t checksum = cpu_loop(iters_, task);
    if (wait_.count() > 0) {
      const GilReleased released;
      std::this_thread::sleep_for(wait_);
    }
    return checksum;
  }
  Async<std::uint64_t> run_async(std::size_t task, Loop& loop) const override {
    const std::uint64_t checksum = cpu_loop(iters_, task);  // blocks the loop
    loop.update_time();                                     // the wait begins after the computing
    if (wait_.count() > 0) co_await loop.sleep(wait_);
    co_return checksum;
  }
  std::uint64_t expected_checksum(std::size_t task) const override { return expected_(task); }

 private:
  WorkloadSpec spec_;
  std::uint64_t iters_;
  std::chrono::nanoseconds wait_;
  CpuLoopChecksums expected_;
};

// --cpu-fraction of --task-time computing (calibrated into iterations), the rest waiting.
ParamValues resolve_mixed(const ParamValues& given, const IterationsFor& iterations) {
  const auto task_time = given.duration("task_time_s");
  const auto cpu_part = std::chrono::duration_cast<std::chrono::nanoseconds>(
      task_time * given.number("cpu_fraction"));
  ParamValues resolved;
  resolved.set("cpu_iters", cpu_part.count() > 0 ? iterations(cpu_part) : 0);
  resolved.set_duration("io_wait_s", task_time - cpu_part);
  return resolved;
}

}  // namespace

WorkloadEntry workload_mixed() {
  return {
      "mixed",
      "computes --cpu-fraction of --task-time (the seed's loop), then waits the rest",
      [](const WorkloadSpec& spec) { return std::make_unique<MixedWorkload>(spec); },
      {{"cpu-fraction", ParamKind::fraction, "0.5",
        "mixed workload: share of each task spent computing, 0 to 1", "mixed tasks {} computing"},
       {"task-time", ParamKind::duration, "20ms", "mixed workload: length of each task",
        "mixed tasks of {}"}},
      resolve_mixed};
}

}  // namespace scalelab::detail
