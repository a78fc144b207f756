// `noop`: a task that does nothing, so that what remains is the model's own dispatch cost.

#include "workloads/builtin.hpp"

namespace scalelab::detail {
namespace {

class NoopWorkload final : public Workload {
 public:
  explicit NoopWorkload(WorkloadSpec spec) : spec_(std::move(spec)) {}
  const WorkloadSpec& spec() const override { return spec_; }
  Bound bound() const override { return Bound::none; }
  std::uint64_t run(std::size_t task) const override { return task; }
  std::uint64_t expected_checksum(std::size_t task) const override { return task; }

 private:
  WorkloadSpec spec_;
};

}  // namespace

WorkloadEntry workload_noop() {
  return {"noop", "an empty task: what is left is the model's dispatch overhead",
          [](const WorkloadSpec& spec) { return std::make_unique<NoopWorkload>(spec); }};
}

}  // namespace scalelab::detail
