// The python workload (embedded CPython): the default task against the C++ loop, every model
// but gil at several worker counts, a user's function, its exceptions, --python-func errors,
// the real GIL released by sleeps, and fork after the interpreter has run threads.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <tuple>
#include <vector>

#include "scalelab/scalelab.hpp"
#include "support/helpers.hpp"

namespace scalelab {
namespace {

using testing::throws_naming;

// tests/python (the sample module) goes on PYTHONPATH before any test builds a python
// workload: the interpreter reads it once, when it starts, and spawned workers inherit it.
class SampleModuleOnPath : public ::testing::Environment {
 public:
  void SetUp() override { ::setenv("PYTHONPATH", SCALELAB_TEST_PYTHON_DIR, 1); }
};
const ::testing::Environment* const sample_module_on_path =
    ::testing::AddGlobalTestEnvironment(new SampleModuleOnPath);

using testing::python_spec;

using testing::start_pool;
using Case = testing::ModelCase;

// Every model that can run the python workload: all but gil, Python's own executors among them.
std::vector<Case> python_models() {
  return {{"serial", "fork"},       {"threads", "fork"},       {"processes", "fork"},
          {"processes", "spawn"},   {"async", "fork"},         {"py-threads", "fork"},
          {"py-processes", "fork"}, {"py-processes", "spawn"}, {"py-asyncio", "fork"}};
}

// --- the default task: the seed's loop in Python -----------------------------------------------

TEST(PythonDefaultTask, ChecksumIsTheCppLoopStartedFromTheTaskNumber) {
  constexpr std::uint64_t iters = 5000;
  const auto workload = make_workload(python_spec(iters));
  for (std::size_t task : {0u, 1u, 2u, 7u, 999u, 1000002u, 1000003u, 1000004u, 123456789u}) {
    EXPECT_EQ(workload->run(task), cpu_loop(iters, task)) << "task " << task;
    EXPECT_EQ(workload->expected_checksum(task), cpu_loop(iters, task)) << "task " << task;
  }
  // The same value the C++ `cpu` workload returns for the same iterations.
  const auto cpu = make_workload(testing::cpu_spec(iters));
  EXPECT_EQ(workload->run(42), cpu->run(42));
}

TEST(PythonDefaultTask, IsCpuBoundAndNeedsIterations) {
  EXPECT_EQ(make_workload(python_spec(10))->bound(), Bound::cpu);
  EXPECT_TRUE(throws_naming([] { make_workload(python_spec(0)); }, "--cpu-work"));
}

TEST(PythonDefaultTask, CalibrationSizesTheLoopInPython) {
  const auto entry = workload_registry().find("python");
  ASSERT_TRUE(entry.has_value());
  ASSERT_TRUE(entry->calibrate);  // its own loop, not the C++ one's calibration
  EXPECT_EQ(entry->loop, "python");
  const CpuCalibration c = entry->calibrate(std::chrono::milliseconds(10));
  EXPECT_DOUBLE_EQ(c.target_s, 0.01);
  EXPECT_GT(c.iters_per_s, 0);
  EXPECT_EQ(c.iters, std::max<std::uint64_t>(1, static_cast<std::uint64_t>(0.01 * c.iters_per_s)));
  EXPECT_GT(c.measured_s, 0);
}

TEST(PythonDefaultTask, ResolveUsesThePythonCalibration) {
  Spec spec;
  spec.workloads = {"python"};
  spec.models = {"serial"};
  spec.params.set("cpu_work", {{"duration_s", 0.002}});
  const ResolvedWorkloads resolved = resolve_workloads(spec);
  ASSERT_EQ(resolved.workloads.size(), 1u);
  ASSERT_TRUE(resolved.calibration.contains("python")) << resolved.calibration.dump();
  EXPECT_EQ(resolved.workloads[0].spec.params.count("cpu_iters"),
            resolved.calibration.at("python").at("iters").get<std::uint64_t>());
  EXPECT_TRUE(resolved.workloads[0].spec.params.text("python_func").empty());
}

// --- every model but gil, several task and worker counts ---------------------------------------

class PythonEveryModel : public ::testing::TestWithParam<std::tuple<Case, std::size_t, int>> {};

TEST_P(PythonEveryModel, RunsEachTaskExactlyOnceWithSerialChecksums) {
  const auto& [c, tasks, workers] = GetParam();
  const auto workload = make_workload(python_spec(2000));
  const auto pool = start_pool(c.model, *workload, workers, c.method);
  for (int batch_number = 0; batch_number < 2; ++batch_number) {  // a pool runs many batches
    const BatchResult batch = pool->run(tasks);
    ASSERT_EQ(batch.tasks.size(), tasks);
    for (std::size_t i = 0; i < tasks; ++i) {
      EXPECT_EQ(batch.tasks[i].runs, 1u) << "task " << i;
      EXPECT_TRUE(batch.tasks[i].error.empty()) << batch.tasks[i].error;
      EXPECT_EQ(batch.tasks[i].checksum, workload->expected_checksum(i)) << "task " << i;
      EXPECT_EQ(batch.tasks[i].checksum, cpu_loop(2000, i)) << "task " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, PythonEveryModel,
                         ::testing::Combine(::testing::ValuesIn(python_models()),
                                            ::testing::Values(std::size_t{0}, std::size_t{1},
                                                              std::size_t{7}, std::size_t{1000}),
                                            ::testing::Values(1, 2, 7)),
                         testing::case_tasks_workers_name);

// --- a user's function --------------------------------------------------------------------------

class PythonUserFunction : public ::testing::TestWithParam<Case> {};

TEST_P(PythonUserFunction, ReturnsItsValueForEachTask) {
  const auto workload = make_workload(python_spec(1, "scalelab_sample:square"));
  const auto pool = start_pool(GetParam().model, *workload, 3, GetParam().method);
  const BatchResult batch = pool->run(10);
  ASSERT_EQ(batch.tasks.size(), 10u);
  for (std::size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(batch.tasks[i].runs, 1u);
    EXPECT_TRUE(batch.tasks[i].error.empty()) << batch.tasks[i].error;
    EXPECT_EQ(batch.tasks[i].checksum, i * i);
    EXPECT_EQ(workload->expected_checksum(i), i * i);
  }
}

TEST_P(PythonUserFunction, AnExceptionFailsOnlyItsTaskWithTheTracebacksLastLine) {
  const auto workload = make_workload(python_spec(1, "scalelab_sample:fail_on_3"));
  const auto pool = start_pool(GetParam().model, *workload, 2, GetParam().method);
  const BatchResult batch = pool->run(8);
  ASSERT_EQ(batch.tasks.size(), 8u);
  for (std::size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(batch.tasks[i].runs, 1u);
    if (i == 3) {
      EXPECT_EQ(batch.tasks[i].error, "ZeroDivisionError: division by zero");
    } else {
      EXPECT_TRUE(batch.tasks[i].error.empty()) << batch.tasks[i].error;
      EXPECT_EQ(batch.tasks[i].checksum, i);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, PythonUserFunction, ::testing::ValuesIn(python_models()),
                         [](const auto& info) { return info.param.label(); });

TEST(PythonUserFunction, TheSerialValueOfARaisingTaskDoesNotEndTheRun) {
  // The runner computes every serial checksum before the first trial; a raising task must
  // leave that to the trials, which report its exception.
  const auto workload = make_workload(python_spec(1, "scalelab_sample:fail_on_3"));
  EXPECT_NO_THROW(workload->expected_checksum(3));
  EXPECT_EQ(workload->expected_checksum(4), 4u);
}

TEST(PythonUserFunction, ADottedNameReachesAMethod) {
  const auto workload = make_workload(python_spec(1, "scalelab_sample:Tasks.triple"));
  EXPECT_EQ(workload->run(5), 15u);
}

TEST(PythonUserFunction, AResultThatIsNotAnIntFailsTheTask) {
  const auto workload = make_workload(python_spec(1, "scalelab_sample:not_int"));
  try {
    workload->run(2);
    ADD_FAILURE() << "did not throw";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("returned a str, not an int"), std::string::npos)
        << e.what();
  }
}

TEST(PythonUserFunction, AResultOutsideUint64FailsTheTask) {
  const auto workload = make_workload(python_spec(1, "scalelab_sample:negative"));
  try {
    workload->run(2);
    ADD_FAILURE() << "did not throw";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("returned -3"), std::string::npos) << e.what();
  }
}

// --- --python-func errors: one line naming the flag, at construction ---------------------------

struct BadFunction {
  const char* name;   ///< test name suffix
  const char* value;  ///< given as --python-func
};

void PrintTo(const BadFunction& bad, std::ostream* os) {
  *os << bad.value;
}

class PythonBadFunction : public ::testing::TestWithParam<BadFunction> {};

// A malformed name is refused when the workload is built; a module that does not import, or a
// function it lacks, when it is loaded (prepare(), in the process that runs the tasks).
TEST_P(PythonBadFunction, IsAnErrorNamingTheFlag) {
  EXPECT_TRUE(throws_naming([] { make_workload(python_spec(1, GetParam().value))->prepare(); },
                            "--python-func"));
}

INSTANTIATE_TEST_SUITE_P(
    Values, PythonBadFunction,
    ::testing::Values(BadFunction{"NoColon", "scalelab_sample"}, BadFunction{"NoModule", ":square"},
                      BadFunction{"NoFunction", "scalelab_sample:"}, BadFunction{"JustAColon", ":"},
                      BadFunction{"ModuleNotFound", "nosuch:f"},
                      BadFunction{"FunctionNotFound", "scalelab_sample:nope"},
                      BadFunction{"NotCallable", "scalelab_sample:NOT_CALLABLE"},
                      BadFunction{"DottedNotFound", "scalelab_sample:Tasks.nope"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(PythonBadFunction, AMissingModuleSaysWhatPythonSaid) {
  EXPECT_TRUE(throws_naming([] { make_workload(python_spec(1, "nosuch:f"))->prepare(); },
                            "cannot import module 'nosuch': ModuleNotFoundError: No module named "
                            "'nosuch'"));
}

// Building the workload runs none of the user's code: the module is imported by prepare()
// (and by the first task when nobody called it), so the driver can build it safely.
TEST(PythonUserCode, IsImportedByPrepareNotByTheConstructor) {
  ::setenv("SCALELAB_FAULT_IMPORT", "raise", 1);
  const auto workload = make_workload(python_spec(1, "scalelab_faults:task"));
  EXPECT_TRUE(workload->runs_user_code());
  EXPECT_TRUE(throws_naming([&] { workload->prepare(); }, "ValueError: asked to fail"));
  // A task loads what nobody prepared, and reports the same failure.
  EXPECT_THROW(workload->run(5), std::runtime_error);
  ::unsetenv("SCALELAB_FAULT_IMPORT");
  EXPECT_FALSE(make_workload(python_spec(10))->runs_user_code());  // the seed's loop is ours
}

// --- models ------------------------------------------------------------------------------------

TEST(PythonModels, GilIsRefusedAndEveryOtherModelIsFine) {
  const auto workload = make_workload(python_spec(10));
  EXPECT_NE(workload->unsupported_by("gil").find("GIL"), std::string::npos);
  for (const char* model : {"serial", "threads", "processes", "async"}) {
    EXPECT_EQ(workload->unsupported_by(model), "") << model;
  }
  Spec spec;
  spec.workloads = {"python"};
  spec.models = {"gil", "threads"};
  spec.params.set("cpu_work", {{"iters", 100}});
  EXPECT_TRUE(throws_naming([&] { resolve_workloads(spec); }, "--model"));
}

// Each thread takes the real GIL per task, and time.sleep releases it: 8 naps of 100 ms on 8
// threads overlap (generous bound, 400 ms).
TEST(PythonModels, SleepingThreadsOverlapBecauseSleepReleasesTheGil) {
  const auto workload = make_workload(python_spec(1, "scalelab_sample:nap"));
  const auto pool = start_pool("threads", *workload, 8);
  const BatchResult batch = pool->run(8);
  EXPECT_LT(batch.wall_s, 0.4);
  EXPECT_GE(batch.wall_s, 0.099);
  for (const auto& t : batch.tasks) EXPECT_TRUE(t.error.empty()) << t.error;
}

// The fork hooks: a child forked after pool threads have used the interpreter gets a working
// one, and the parent's still works afterwards.
TEST(PythonModels, ForkAfterThreadsHaveRunPython) {
  const auto workload = make_workload(python_spec(3000));
  const auto check = [&](const BatchResult& batch, const char* when) {
    ASSERT_EQ(batch.tasks.size(), 20u) << when;
    for (std::size_t i = 0; i < 20; ++i) {
      EXPECT_TRUE(batch.tasks[i].error.empty()) << when << ": " << batch.tasks[i].error;
      EXPECT_EQ(batch.tasks[i].checksum, cpu_loop(3000, i)) << when;
    }
  };
  {
    const auto threads = start_pool("threads", *workload, 4);
    check(threads->run(20), "threads before fork");
  }
  check(start_pool("processes", *workload, 3)->run(20), "forked workers");
  check(start_pool("threads", *workload, 4)->run(20), "threads after fork");
  check(start_pool("serial", *workload, 1)->run(20), "serial after fork");
}

}  // namespace
}  // namespace scalelab
