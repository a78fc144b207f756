// `cpu`: the seed's pure loop, started from the task's number. The loop only adds modulo
// 1000003, so from start s0 it ends at (s0 + loop-from-0) % 1000003: the serial checksum of
// every task follows from one run of the loop, made when first needed.

#include <mutex>

#include <fmt/format.h>

#include "scalelab/error.hpp"
#include "workloads/builtin.hpp"

namespace scalelab {
namespace {
constexpr std::uint64_t kCpuModulus = 1000003;
}  // namespace

std::uint64_t cpu_loop(std::uint64_t iters, std::uint64_t start) {
  std::uint64_t s = start % kCpuModulus;
  for (std::uint64_t i = 0; i < iters; ++i) {
    // i*i wraps for i > 2^32; unsigned wrap-around is defined, and the checksum only has to be
    // the same everywhere, not equal to Python's big-integer result at that size.
    s = (s + i * i) % kCpuModulus;
  }
  return s;
}

namespace detail {
namespace {

class CpuWorkload final : public Workload {
 public:
  explicit CpuWorkload(WorkloadSpec spec) : spec_(std::move(spec)) {}
  const WorkloadSpec& spec() const override { return spec_; }
  Bound bound() const override { return Bound::cpu; }
  std::uint64_t run(std::size_t task) const override { return cpu_loop(spec_.cpu_iters, task); }
  std::uint64_t expected_checksum(std::size_t task) const override {
    // Lazily: building the workload (to validate it, to plan) must not cost a task's time.
    std::call_once(once_, [&] { from_zero_ = cpu_loop(spec_.cpu_iters); });
    return (task % kCpuModulus + from_zero_) % kCpuModulus;
  }

 private:
  WorkloadSpec spec_;
  mutable std::once_flag once_;
  mutable std::uint64_t from_zero_ = 0;
};

}  // namespace

std::unique_ptr<Workload> make_cpu_workload(const WorkloadSpec& spec) {
  if (spec.cpu_iters == 0) throw Error("--cpu-work: the cpu workload needs at least 1 iteration");
  return std::make_unique<CpuWorkload>(spec);
}

}  // namespace detail
}  // namespace scalelab
