#include <gtest/gtest.h>

#include <chrono>
#include "scalelab/async.hpp"

#include "scalelab/scalelab.hpp"
#include "support/helpers.hpp"

namespace scalelab {
namespace {

using testing::cpu_spec;
using testing::io_spec;
using testing::mixed_spec;
using testing::throws_naming;

// Python: s = 0; for i in range(n): s = (s + i*i) % 1000003
std::uint64_t reference_loop(std::uint64_t n) {
  std::uint64_t s = 0;
  for (std::uint64_t i = 0; i < n; ++i) s = (s + (i * i) % 1000003) % 1000003;
  return s;
}

TEST(CpuLoop, MatchesTheSeedsLoop) {
  EXPECT_EQ(cpu_loop(0), 0u);
  EXPECT_EQ(cpu_loop(1), 0u);
  EXPECT_EQ(cpu_loop(3), 5u);  // 0 + 1 + 4
  EXPECT_EQ(cpu_loop(200000), reference_loop(200000));
  // Value printed by CPython 3.11 for the seed's loop with 200000 iterations.
  EXPECT_EQ(cpu_loop(200000), 784002u);
}

TEST(CpuWorkload, ChecksumIsTheLoopStartedFromTheTaskNumber) {
  const auto w = make_workload(cpu_spec(5000));
  EXPECT_EQ(w->run(0), cpu_loop(5000));
  EXPECT_EQ(w->run(17), cpu_loop(5000, 17));
  EXPECT_NE(w->run(17), w->run(18));  // a model that swaps tasks is caught
  for (std::size_t task : {0u, 1u, 17u, 1000002u, 1000003u, 5000000u}) {
    EXPECT_EQ(w->expected_checksum(task), cpu_loop(5000, task)) << "task " << task;
  }
  EXPECT_EQ(w->bound(), Bound::cpu);
}

TEST(CpuWorkload, BuildingItRunsNoTask) {
  // Validation and planning build workloads; a 2^40-iteration task must not run then.
  const auto t0 = std::chrono::steady_clock::now();
  const auto w = make_workload(cpu_spec(std::uint64_t{1} << 40));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  EXPECT_EQ(w->bound(), Bound::cpu);
}

TEST(CpuWorkload, ZeroIterationsIsRejected) {
  EXPECT_THROW(make_workload(cpu_spec(0)), Error);
}

TEST(IoWorkload, WaitsAndChecksumDependsOnTheTask) {
  const auto w = make_workload(io_spec(std::chrono::milliseconds(20)));
  const auto t0 = std::chrono::steady_clock::now();
  const auto value = w->run(5);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(20));
  EXPECT_EQ(value, w->expected_checksum(5));
  EXPECT_NE(w->expected_checksum(5), w->expected_checksum(6));
  EXPECT_EQ(w->bound(), Bound::wait);
}

TEST(IoWorkload, AwaitableFormWaitsOnTheLoop) {
  const auto w = make_workload(io_spec(std::chrono::milliseconds(20)));
  Loop loop;
  const auto t0 = std::chrono::steady_clock::now();
  const auto value = loop.run(w->run_async(9, loop));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(20));
  EXPECT_EQ(value, w->expected_checksum(9));
}

TEST(IoWorkload, ZeroWaitIsRejected) {
  EXPECT_THROW(make_workload({"io", {}}), Error);
}

TEST(NoopWorkload, ReturnsTheTaskIndex) {
  const auto w = make_workload({"noop", {}});
  EXPECT_EQ(w->run(42), 42u);
  EXPECT_EQ(w->expected_checksum(42), 42u);
}

TEST(WorkloadSpec, RoundTripsThroughJson) {
  const WorkloadSpec a = cpu_spec(123456);
  const WorkloadSpec b = io_spec(std::chrono::milliseconds(20));
  EXPECT_EQ(workload_spec_from_json(to_json(a)), a);
  EXPECT_EQ(workload_spec_from_json(to_json(b)), b);
  EXPECT_THROW(workload_spec_from_json(nlohmann::json{{"cpu_iters", 3}}), Error);
  EXPECT_THROW(workload_spec_from_json(nlohmann::json{{"name", 3}}), Error);
}

TEST(Registry, UnknownWorkloadNamesTheFlagAndTheChoices) {
  EXPECT_TRUE(throws_naming([] { make_workload({"gpu", {}}); }, "--workload"));
  EXPECT_TRUE(throws_naming([] { make_workload({"gpu", {}}); }, "cpu, io, noop"));
}

TEST(Calibration, SizesATaskToTheAskedDuration) {
  const CpuCalibration c = calibrate_cpu(std::chrono::milliseconds(10));
  EXPECT_GT(c.iters_per_s, 0);
  EXPECT_EQ(c.iters, static_cast<std::uint64_t>(0.010 * c.iters_per_s));
  // The calibrated task really lasts about that long (very loose: this machine is noisy).
  const auto t0 = std::chrono::steady_clock::now();
  volatile auto sink = cpu_loop(c.iters);
  (void)sink;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GT(s, 0.002);
  EXPECT_LT(s, 0.5);
}

}  // namespace
}  // namespace scalelab

namespace scalelab {
namespace {

TEST(MixedWorkload, ComputesThenWaitsWithTheCpuChecksum) {
  const auto w = make_workload(mixed_spec(20000, std::chrono::milliseconds(10)));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(w->run(5), cpu_loop(20000, 5));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(10));
  EXPECT_EQ(w->expected_checksum(5), cpu_loop(20000, 5));
  EXPECT_EQ(w->bound(), Bound::wait);
  EXPECT_EQ(make_workload(mixed_spec(20000, {}))->bound(), Bound::cpu);  // fraction 1: no wait
}

TEST(MixedWorkload, AwaitableFormWaitsOnTheLoop) {
  const auto w = make_workload(mixed_spec(1000, std::chrono::milliseconds(10)));
  Loop loop;
  const auto t0 = std::chrono::steady_clock::now();
  const auto value = loop.run(w->run_async(3, loop));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(10));
  EXPECT_EQ(value, cpu_loop(1000, 3));
}

TEST(ResolveWorkloads, GivesEachWorkloadTheParametersItUses) {
  Spec spec;
  spec.workloads = {"cpu", "io", "noop", "mixed"};
  spec.params.set("cpu_work", {{"iters", 12345}});
  spec.params.set_duration("io_wait_s", std::chrono::milliseconds(7));
  spec.params.set("cpu_fraction", 0.25);
  spec.params.set_duration("task_time_s", std::chrono::milliseconds(40));
  const ResolvedWorkloads r = resolve_workloads(spec);
  ASSERT_EQ(r.workloads.size(), 4u);
  EXPECT_EQ(r.workloads[0].spec, cpu_spec(12345));
  EXPECT_EQ(r.workloads[1].spec, io_spec(std::chrono::milliseconds(7)));
  EXPECT_EQ(r.workloads[2].spec, (WorkloadSpec{"noop", {}}));
  // mixed: a quarter of 40 ms computing (calibrated), the other 30 ms waiting.
  EXPECT_EQ(r.workloads[3].spec.name, "mixed");
  EXPECT_EQ(r.workloads[3].spec.params.duration("io_wait_s"), std::chrono::milliseconds(30));
  ASSERT_TRUE(r.calibration.contains("mixed"));
  EXPECT_NEAR(r.calibration["mixed"]["target_s"].get<double>(), 0.010, 1e-9);
  EXPECT_EQ(r.calibration["mixed"]["iters"].get<std::uint64_t>(),
            r.workloads[3].spec.params.count("cpu_iters"));
  EXPECT_FALSE(r.calibration.contains("cpu"));  // given as iterations: nothing calibrated
}

TEST(ResolveWorkloads, MixedAtTheEndsIsPureWaitOrPureCpu) {
  Spec spec;
  spec.workloads = {"mixed"};
  spec.params.set_duration("task_time_s", std::chrono::milliseconds(20));
  spec.params.set("cpu_fraction", 0);
  EXPECT_EQ(resolve_workloads(spec).workloads[0].spec,
            mixed_spec(0, std::chrono::milliseconds(20)));
  spec.params.set("cpu_fraction", 1);
  const auto all_cpu = resolve_workloads(spec).workloads[0].spec;
  EXPECT_GT(all_cpu.params.count("cpu_iters"), 0u);
  EXPECT_EQ(all_cpu.params.duration("io_wait_s").count(), 0);
}

TEST(ResolveWorkloads, ACalibratedDurationSizesTheTask) {
  Spec spec;
  spec.workloads = {"cpu"};
  spec.params.set("cpu_work", {{"duration_s", 0.005}});
  const ResolvedWorkloads r = resolve_workloads(spec);
  const auto& c = r.calibration["cpu"];
  EXPECT_EQ(c["iters"].get<std::uint64_t>(), r.workloads[0].spec.params.count("cpu_iters"));
  EXPECT_NEAR(static_cast<double>(r.workloads[0].spec.params.count("cpu_iters")),
              0.005 * c["iters_per_s"].get<double>(), 1.0);
}

}  // namespace
}  // namespace scalelab
