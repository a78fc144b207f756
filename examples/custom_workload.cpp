// What this example teaches: how to sweep your own task through scalelab's library API.
//
//  1. Define the task as a scalelab::Workload subclass. Here each task estimates π by Monte
//     Carlo with its own seed, and returns the hit count: a checksum that depends on the task
//     index, so the runner can tell whether every model ran every task exactly once.
//  2. Register it in scalelab::workload_registry() under a name, *before* main calls
//     scalelab::maybe_run_worker: a spawned process worker rebuilds the workload by name.
//  3. Describe the experiment as a Spec, expand it into a Plan, run it, summarise, print.

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include "scalelab/scalelab.hpp"

namespace {

// splitmix64: small, fast, and the same sequence on every machine and in every process.
std::uint64_t next_random(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// One task throws spec.cpu_iters points into the unit square and counts those inside the
// quarter circle; hits / samples ≈ π / 4. Integer arithmetic keeps the count exact.
class MonteCarloPi final : public scalelab::Workload {
 public:
  explicit MonteCarloPi(scalelab::WorkloadSpec spec) : spec_(std::move(spec)) {}

  const scalelab::WorkloadSpec& spec() const override { return spec_; }
  scalelab::Bound bound() const override { return scalelab::Bound::cpu; }

  std::uint64_t run(std::size_t task) const override {
    std::uint64_t state = task;  // the task's own seed: its checksum depends on its index
    std::uint64_t hits = 0;
    for (std::uint64_t i = 0; i < spec_.cpu_iters; ++i) {
      const std::uint64_t x = next_random(state) >> 33;  // 31 bits: x² + y² fits in 64
      const std::uint64_t y = next_random(state) >> 33;
      hits += x * x + y * y < (std::uint64_t{1} << 62) ? 1 : 0;
    }
    return hits;
  }

 private:
  scalelab::WorkloadSpec spec_;
};

void register_montecarlo() {
  scalelab::workload_registry().add(
      {"montecarlo", "π by Monte Carlo; cpu_iters samples per task",
       [](const scalelab::WorkloadSpec& spec) { return std::make_unique<MonteCarloPi>(spec); }});
}

}  // namespace

int main(int argc, char** argv) {
  register_montecarlo();
  if (const auto code = scalelab::maybe_run_worker(argc, argv)) return *code;

  scalelab::Spec spec;
  spec.workloads = {"montecarlo"};
  spec.models = {"serial", "threads", "processes", "async"};
  spec.workers = {1, 2};
  spec.tasks = 16;
  spec.repeat = 3;
  // spec.model_options.start_method = scalelab::StartMethod::spawn;  // also works: see step 2
  scalelab::validate(spec);

  // The resolved workload: 200 000 samples a task, well under a millisecond.
  const scalelab::WorkloadSpec montecarlo{"montecarlo", 200'000, {}};
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const scalelab::Plan plan = scalelab::make_plan(spec, {montecarlo}, cores);

  int failed = 0;
  scalelab::RunObserver observer;
  observer.on_trial = [&](const scalelab::Trial& trial, std::size_t, std::size_t) {
    if (!trial.failed()) return;
    ++failed;
    std::cerr << trial.model << " workers=" << trial.workers << ": " << trial.error << '\n';
  };
  const std::vector<scalelab::Trial> trials = scalelab::run_plan(spec, plan, observer);

  const auto rows = scalelab::summarize(trials, spec.workloads, spec.models);
  scalelab::print_console_tables(std::cout, rows);

  // The checksums are the result too: run_plan held every model's to the serial values.
  const auto workload = scalelab::make_workload(montecarlo);
  std::uint64_t hits = 0;
  for (std::size_t task = 0; task < spec.tasks; ++task) hits += workload->run(task);
  const double samples = static_cast<double>(spec.tasks * montecarlo.cpu_iters);
  std::cout << "pi ~ " << 4.0 * static_cast<double>(hits) / samples << '\n';
  return failed == 0 ? 0 : 1;
}
