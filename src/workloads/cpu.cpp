// `cpu`: the seed's pure loop, started from the task's number. The loop only adds modulo
// 1000003, so from start s0 it ends at (s0 + loop-from-0) % 1000003: the serial checksum of
// every task follows from one run of the loop, made when first needed.

#include <mutex>

#include <fmt/format.h>

#include "scalelab/error.hpp"
#include "scalelab/gil.hpp"
#include "workloads/builtin.hpp"

namespace scalelab {
namespace {
constexpr std::uint64_t kCpuModulus = 1000003;
constexpr std::uint64_t kCheckEvery = 4096;
}  // namespace

std::uint64_t cpu_loop(std::uint64_t iters, std::uint64_t start) {
  std::uint64_t s = start % kCpuModulus;
  std::uint64_t i = 0;
  while (i < iters) {
    // Chunks of kCheckEvery iterations (~16 us here), with a point between them where the
    // emulated GIL may change hands: CPython's eval loop checks its breaker the same way.
    const std::uint64_t chunk_end = iters - i > kCheckEvery ? i + kCheckEvery : iters;
    for (; i < chunk_end; ++i) {
      // i*i wraps for i > 2^32; unsigned wrap-around is defined, and the checksum only has to
      // be the same everywhere, not equal to Python's big-integer result at that size.
      s = (s + i * i) % kCpuModulus;
    }
    gil_checkpoint();
  }
  return s;
}

namespace detail {

CpuLoopChecksums::CpuLoopChecksums(std::uint64_t iters) : iters_(iters) {}

std::uint64_t CpuLoopChecksums::operator()(std::size_t task) const {
  // Lazily: building a workload (to validate it, to plan) must not cost a task's time.
  std::call_once(once_, [&] { from_zero_ = cpu_loop(iters_); });
  return (task % kCpuModulus + from_zero_) % kCpuModulus;
}

namespace {

class CpuWorkload final : public Workload {
 public:
  explicit CpuWorkload(WorkloadSpec spec)
      : spec_(std::move(spec)), iters_(spec_.params.count("cpu_iters")), expected_(iters_) {}
  const WorkloadSpec& spec() const override { return spec_; }
  Bound bound() const override { return Bound::cpu; }
  std::uint64_t run(std::size_t task) const override { return cpu_loop(iters_, task); }
  std::uint64_t expected_checksum(std::size_t task) const override { return expected_(task); }

 private:
  WorkloadSpec spec_;
  std::uint64_t iters_;
  CpuLoopChecksums expected_;
};

}  // namespace

WorkloadEntry workload_cpu() {
  return {"cpu",
          "the seed's pure loop s = (s + i*i) % 1000003; size with --cpu-work",
          [](const WorkloadSpec& spec) -> std::unique_ptr<Workload> {
            if (spec.params.count("cpu_iters") == 0) {
              throw Error("--cpu-work: the cpu workload needs at least 1 iteration");
            }
            return std::make_unique<CpuWorkload>(spec);
          },
          {cpu_work_param()}};
}

}  // namespace detail
}  // namespace scalelab
