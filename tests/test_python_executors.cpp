// The py-* models: Python's own ThreadPoolExecutor, ProcessPoolExecutor (fork and spawn) and
// asyncio event loop, run by the embedded CPython over the python and python-io workloads.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <stop_token>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "scalelab/scalelab.hpp"
#include "support/helpers.hpp"
#include "support/sanitizers.hpp"

namespace scalelab {
namespace {

using testing::start_pool;
using testing::throws_naming;
using Case = testing::ModelCase;

// tests/python (the sample module) goes on PYTHONPATH before the interpreter starts; spawned
// workers inherit it.
class SampleModuleOnPath : public ::testing::Environment {
 public:
  void SetUp() override { ::setenv("PYTHONPATH", SCALELAB_TEST_PYTHON_DIR, 1); }
};
const ::testing::Environment* const sample_module_on_path =
    ::testing::AddGlobalTestEnvironment(new SampleModuleOnPath);

using testing::python_spec;

WorkloadSpec python_io_spec(std::chrono::nanoseconds wait) {
  WorkloadSpec spec{"python-io", {}};
  spec.params.set_duration("io_wait_s", wait);
  return spec;
}

std::vector<Case> executors() {
  return {{"py-threads", "fork"},
          {"py-processes", "fork"},
          {"py-processes", "spawn"},
          {"py-asyncio", "fork"}};
}

void expect_every_task_once(const BatchResult& batch, std::size_t tasks, const Workload& workload,
                            const std::string& where) {
  ASSERT_EQ(batch.tasks.size(), tasks) << where;
  for (std::size_t i = 0; i < tasks; ++i) {
    EXPECT_EQ(batch.tasks[i].runs, 1u) << where << " task " << i;
    EXPECT_TRUE(batch.tasks[i].error.empty()) << where << ": " << batch.tasks[i].error;
    EXPECT_EQ(batch.tasks[i].checksum, workload.expected_checksum(i)) << where << " task " << i;
    EXPECT_LE(batch.tasks[i].start_s, batch.tasks[i].end_s) << where << " task " << i;
    EXPECT_LE(batch.tasks[i].end_s, batch.wall_s) << where << " task " << i;
  }
}

// --- every task exactly once (the seed's loop: test_python's PythonEveryModel) ------------------

class PyExecutorsEveryTask : public ::testing::TestWithParam<std::tuple<Case, std::size_t, int>> {};

TEST_P(PyExecutorsEveryTask, ThePythonWaitRunsEachTaskOnce) {
  const auto& [c, tasks, workers] = GetParam();
  const auto workload = make_workload(python_io_spec(std::chrono::microseconds(200)));
  const auto pool = start_pool(c.model, *workload, workers, c.method);
  for (int batch = 0; batch < 2; ++batch) {  // a pool runs many batches
    expect_every_task_once(pool->run(tasks), tasks, *workload, c.label());
  }
}

INSTANTIATE_TEST_SUITE_P(Models, PyExecutorsEveryTask,
                         ::testing::Combine(::testing::ValuesIn(executors()),
                                            ::testing::Values(std::size_t{0}, std::size_t{1},
                                                              std::size_t{7}, std::size_t{1000}),
                                            ::testing::Values(1, 2, 7)),
                         testing::case_tasks_workers_name);

// --- a user's function (its value and exceptions: test_python's PythonUserFunction) ------------

class PyExecutorsUserFunction : public ::testing::TestWithParam<Case> {};

TEST_P(PyExecutorsUserFunction, AnExceptionLeavesThePoolGoodForTheNextBatch) {
  const auto workload = make_workload(python_spec(1, "scalelab_sample:fail_on_3"));
  const auto pool = start_pool(GetParam().model, *workload, 2, GetParam().method);
  EXPECT_EQ(pool->run(8).tasks[3].error, "ZeroDivisionError: division by zero");
  const BatchResult next = pool->run(3);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(next.tasks[i].checksum, i);
}

TEST_P(PyExecutorsUserFunction, AResultThatIsNotAnIntFailsItsTask) {
  const auto workload = make_workload(python_spec(1, "scalelab_sample:not_int"));
  const BatchResult batch = start_pool(GetParam().model, *workload, 2, GetParam().method)->run(3);
  for (const auto& t : batch.tasks) {
    EXPECT_NE(t.error.str().find("returned a str, not an int checksum"), std::string::npos)
        << t.error;
  }
}

TEST_P(PyExecutorsUserFunction, AnAsyncDefRunsToItsValue) {
  const auto workload = make_workload(python_spec(1, "scalelab_sample:anap"));
  EXPECT_EQ(workload->expected_checksum(5), 5u);  // serial runs it with asyncio.run
  const BatchResult batch = start_pool(GetParam().model, *workload, 4, GetParam().method)->run(4);
  expect_every_task_once(batch, 4, *workload, GetParam().label());
}

TEST_P(PyExecutorsUserFunction, AModuleThatCannotBeImportedFailsTheStartInOneLine) {
  const auto workload = make_workload(python_spec(1, "no_such_module_here:task"));
  try {
    start_pool(GetParam().model, *workload, 2, GetParam().method);
    FAIL() << "started";
  } catch (const std::exception& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(GetParam().model), std::string::npos) << what;
    EXPECT_NE(what.find("No module named 'no_such_module_here'"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, PyExecutorsUserFunction, ::testing::ValuesIn(executors()),
                         [](const auto& info) { return info.param.label(); });

// --- waiting overlaps; CPU work does not under the GIL -------------------------------------------

// 8 waits of 100 ms on 8 workers overlap in every executor (generous bound: 600 ms).
TEST(PyExecutors, WaitsOverlap) {
  for (const auto& c : executors()) {
    const auto workload = make_workload(python_io_spec(std::chrono::milliseconds(100)));
    const BatchResult batch = start_pool(c.model, *workload, 8, c.method)->run(8);
    expect_every_task_once(batch, 8, *workload, c.label());
    EXPECT_LT(batch.wall_s, 0.6) << c.label();
    EXPECT_GE(batch.wall_s, 0.099) << c.label();
    EXPECT_GE(batch.max_in_flight, 0) << c.label();
  }
}

// asyncio's Semaphore(W) is the limit: 4 waits of 100 ms at W=1 take 400 ms or more.
TEST(PyExecutors, TheSemaphoreLimitsAsyncio) {
  const auto workload = make_workload(python_io_spec(std::chrono::milliseconds(100)));
  const BatchResult batch = start_pool("py-asyncio", *workload, 1)->run(4);
  expect_every_task_once(batch, 4, *workload, "py-asyncio");
  EXPECT_GE(batch.wall_s, 0.399);
}

// Process workers report their own CPU time, which the parent's rusage does not see.
TEST(PyExecutors, ProcessWorkersReportTheirCpuUse) {
  const auto workload = make_workload(python_spec(200000));
  const BatchResult batch = start_pool("py-processes", *workload, 2)->run(4);
  expect_every_task_once(batch, 4, *workload, "py-processes");
  EXPECT_TRUE(batch.has_worker_usage);
  EXPECT_GT(batch.worker_usage.user_s + batch.worker_usage.sys_s, 0.0);
  EXPECT_GT(batch.worker_usage.max_rss_kib, 0);
}

// --- cut short
// -------------------------------------------------------------------------------------

// A timeout while tasks nap: threads finish theirs in flight and take no more, process workers
// are killed, asyncio's tasks are cancelled; each says so in one line.
TEST(PyExecutors, ATimeoutEndsTheBatchAndSaysHow) {
  const std::vector<std::pair<Case, std::string>> cases{
      {{"py-threads", "fork"}, "the threads finished their tasks in flight and took no more"},
      {{"py-processes", "fork"}, "the worker processes were killed"},
      {{"py-asyncio", "fork"}, "the tasks in flight were cancelled"}};
  for (const auto& [c, how] : cases) {
    const auto workload = make_workload(python_spec(1, "scalelab_sample:nap"));
    const auto pool = start_pool(c.model, *workload, 2, c.method);
    RunControl control;
    control.timeout = std::chrono::milliseconds(150);
    try {
      pool->run(20, control);
      ADD_FAILURE() << c.label() << ": not cut short";
    } catch (const BatchAborted& e) {
      EXPECT_EQ(e.reason(), AbortReason::timed_out) << c.label() << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find("timed out after 150ms"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(how), std::string::npos) << e.what();
    }
  }
}

TEST(PyExecutors, AStopRequestInterruptsTheBatch) {
  for (const auto& c : executors()) {
    const auto workload = make_workload(python_spec(1, "scalelab_sample:nap"));
    const auto pool = start_pool(c.model, *workload, 2, c.method);
    std::stop_source stop;
    RunControl control;
    control.stop = stop.get_token();
    std::jthread stopper([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
      stop.request_stop();
    });
    try {
      pool->run(40, control);
      ADD_FAILURE() << c.label() << ": not interrupted";
    } catch (const BatchAborted& e) {
      EXPECT_EQ(e.reason(), AbortReason::interrupted) << c.label() << ": " << e.what();
    }
  }
}

// --- what they refuse
// -------------------------------------------------------------------------------

TEST(PyExecutors, AWorkloadWrittenInCppIsRefusedAtPlanTime) {
  const auto cpu = make_workload(testing::cpu_spec(10));
  for (const char* model : {"py-threads", "py-processes", "py-asyncio"}) {
    EXPECT_NE(unsupported(*cpu, model).find("runs Python tasks only"), std::string::npos) << model;
    EXPECT_EQ(unsupported(*make_workload(python_spec(10)), model), "") << model;
    EXPECT_EQ(left_out_of_build(model), "") << model << " is in this build";
  }
  Spec spec;
  spec.workloads = {"cpu"};
  spec.models = {"py-threads"};
  spec.params.set("cpu_work", {{"iters", 100}});
  EXPECT_TRUE(throws_naming([&] { resolve_workloads(spec); }, "--model"));
  EXPECT_TRUE(throws_naming([&] { start_pool("py-threads", *cpu, 2); }, "Python tasks only"));
}

TEST(PyExecutors, TheGilModelIsRefusedForPythonIo) {
  EXPECT_NE(
      unsupported(*make_workload(python_io_spec(std::chrono::milliseconds(1))), "gil").find("GIL"),
      std::string::npos);
}

}  // namespace
}  // namespace scalelab
