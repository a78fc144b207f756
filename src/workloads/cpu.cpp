// `cpu`: the seed's pure loop. Its checksum does not depend on the task index, so the serial
// value is computed once.

#include <fmt/format.h>

#include "scalelab/error.hpp"
#include "workloads/builtin.hpp"

namespace scalelab {

std::uint64_t cpu_loop(std::uint64_t iters) {
  std::uint64_t s = 0;
  for (std::uint64_t i = 0; i < iters; ++i) {
    // i*i wraps for i > 2^32; unsigned wrap-around is defined, and the checksum only has to be
    // the same everywhere, not equal to Python's big-integer result at that size.
    s = (s + i * i) % 1000003;
  }
  return s;
}

namespace detail {
namespace {

class CpuWorkload final : public Workload {
 public:
  explicit CpuWorkload(WorkloadSpec spec)
      : spec_(std::move(spec)), expected_(cpu_loop(spec_.cpu_iters)) {}
  const WorkloadSpec& spec() const override { return spec_; }
  Bound bound() const override { return Bound::cpu; }
  std::uint64_t run(std::size_t) const override { return cpu_loop(spec_.cpu_iters); }
  std::uint64_t expected_checksum(std::size_t) const override { return expected_; }

 private:
  WorkloadSpec spec_;
  std::uint64_t expected_;
};

}  // namespace

std::unique_ptr<Workload> make_cpu_workload(const WorkloadSpec& spec) {
  if (spec.cpu_iters == 0) throw Error("--cpu-work: the cpu workload needs at least 1 iteration");
  return std::make_unique<CpuWorkload>(spec);
}

}  // namespace detail
}  // namespace scalelab
