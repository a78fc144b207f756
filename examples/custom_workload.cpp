// What this example teaches: how to add a workload of your own, with a parameter of its own,
// in one file, and sweep it through every model with scalelab's whole command line.
//
//  1. Define the task as a scalelab::Workload subclass. Here each task estimates π by Monte
//     Carlo with its own seed, and returns the hit count: a checksum that depends on the task
//     index, so the runner can tell whether every model ran every task exactly once.
//  2. Declare its parameter, --samples, in its registry entry: kind, default, bounds, help and
//     the report's phrase. From that alone scalelab makes the flag, its --help and `list`
//     lines, the one-line error for a bad value (exit 2), the spec and record field
//     ("samples"), --resume, and the report's task-size line.
//  3. Register it, then hand over to scalelab::cli::run: it first acts as a spawned process
//     worker when this process is one (which rebuilds the workload by name, so registration
//     comes first), else runs scalelab's command line.
//
//    custom_workload --workload montecarlo --samples 50000 --workers 1,2 --tasks 16
//    custom_workload list                     # montecarlo and its --samples, among the rest
//
// The same calls work without the command line: scalelab::Spec with params {"samples": N},
// resolve_workloads, make_plan and run_sweep (see include/scalelab/plan.hpp and trial.hpp).

#include <cstdint>
#include <iostream>
#include <memory>

#include "scalelab/cli.hpp"
#include "scalelab/scalelab.hpp"

namespace {

// splitmix64: small, fast, and the same sequence on every machine and in every process.
std::uint64_t next_random(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// One task throws `samples` points into the unit square and counts those inside the quarter
// circle; hits / samples ≈ π / 4. Integer arithmetic keeps the count exact.
class MonteCarloPi final : public scalelab::Workload {
 public:
  explicit MonteCarloPi(scalelab::WorkloadSpec spec)
      : spec_(std::move(spec)), samples_(spec_.params.count("samples")) {}

  const scalelab::WorkloadSpec& spec() const override { return spec_; }
  scalelab::Bound bound() const override { return scalelab::Bound::cpu; }

  std::uint64_t run(std::size_t task) const override {
    std::uint64_t state = task;  // the task's own seed: its checksum depends on its index
    std::uint64_t hits = 0;
    for (std::uint64_t i = 0; i < samples_; ++i) {
      const std::uint64_t x = next_random(state) >> 33;  // 31 bits: x² + y² fits in 64
      const std::uint64_t y = next_random(state) >> 33;
      hits += x * x + y * y < (std::uint64_t{1} << 62) ? 1 : 0;
    }
    return hits;
  }

 private:
  scalelab::WorkloadSpec spec_;
  std::uint64_t samples_;
};

void register_montecarlo() {
  scalelab::Param samples{"samples", scalelab::ParamKind::count, "200000",
                          "montecarlo workload: points thrown per task", "{} samples per task"};
  samples.min = 1;
  samples.max = 1e12;
  scalelab::workload_registry().add(
      {"montecarlo",
       "π by Monte Carlo; --samples points per task",
       [](const scalelab::WorkloadSpec& spec) { return std::make_unique<MonteCarloPi>(spec); },
       {samples}});
}

}  // namespace

int main(int argc, char** argv) {
  register_montecarlo();
  return scalelab::cli::run(argc, argv);  // a spawned worker, or scalelab's command line
}
