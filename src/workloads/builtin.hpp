#pragma once
// The built-in workloads' factories, one per file in src/workloads/.

#include <memory>

#include "scalelab/workload.hpp"

namespace scalelab::detail {

std::unique_ptr<Workload> make_cpu_workload(const WorkloadSpec& spec);
std::unique_ptr<Workload> make_io_workload(const WorkloadSpec& spec);
std::unique_ptr<Workload> make_noop_workload(const WorkloadSpec& spec);

}  // namespace scalelab::detail
