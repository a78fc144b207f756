// Every model runs every task exactly once, with the serial checksums, at several worker
// counts; plus the semantics particular to each model.

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <stop_token>
#include <string>
#include <tuple>
#include <vector>

#include "support/fixtures.hpp"
#include "support/helpers.hpp"
#include "support/sanitizers.hpp"

namespace scalelab {
namespace {

using testing::counting_runs;
using testing::throws_naming;

using testing::cpu_spec;
using testing::io_spec;
using testing::start_pool;
using Case = testing::ModelCase;

class EveryModel : public ::testing::TestWithParam<std::tuple<Case, std::size_t, int>> {};

TEST_P(EveryModel, RunsEachTaskExactlyOnceWithSerialChecksums) {
  const auto& [c, tasks, workers] = GetParam();
  const auto workload = make_workload({"counting", {}});
  for (auto& r : counting_runs()) r = 0;
  const auto pool = start_pool(c.model, *workload, workers, c.method);
  const BatchResult batch = pool->run(tasks);
  ASSERT_EQ(batch.tasks.size(), tasks);
  for (std::size_t i = 0; i < tasks; ++i) {
    EXPECT_EQ(batch.tasks[i].runs, 1u) << "task " << i;
    EXPECT_EQ(batch.tasks[i].checksum, workload->expected_checksum(i)) << "task " << i;
    EXPECT_TRUE(batch.tasks[i].error.empty()) << batch.tasks[i].error;
    EXPECT_LE(batch.tasks[i].start_s, batch.tasks[i].end_s);
    EXPECT_GE(batch.tasks[i].start_s, -1e-3);  // within the batch's clock
    // In-process models run here; the counter sees each task once.
    if (c.model != "processes") {
      EXPECT_EQ(counting_runs()[i].load(), 1) << "task " << i;
    }
  }
  EXPECT_GE(batch.wall_s, 0.0);
  // The same pool runs a second batch just as well.
  const BatchResult again = pool->run(tasks);
  ASSERT_EQ(again.tasks.size(), tasks);
  for (std::size_t i = 0; i < tasks; ++i) EXPECT_EQ(again.tasks[i].runs, 1u);
}

std::vector<Case> all_models() {
  return testing::with_runtimes({{"serial", "fork"},
                                 {"threads", "fork"},
                                 {"processes", "fork"},
                                 {"processes", "spawn"},
                                 {"async", "fork"},
                                 {"gil", "fork"}});
}

INSTANTIATE_TEST_SUITE_P(Models, EveryModel,
                         ::testing::Combine(::testing::ValuesIn(all_models()),
                                            ::testing::Values(std::size_t{0}, std::size_t{1},
                                                              std::size_t{7}, std::size_t{1000}),
                                            ::testing::Values(1, 2, 7, 64)),
                         [](const auto& info) {
                           return std::get<0>(info.param).label() + "_tasks" +
                                  std::to_string(std::get<1>(info.param)) + "_workers" +
                                  std::to_string(std::get<2>(info.param));
                         });

// tbb, openmp and Python's executors are optional at build time: each is either a model or
// refused by name, with why.
TEST(RuntimeModels, AreInTheBuildOrRefusedSayingWhy) {
  for (const char* name : {"tbb", "openmp", "py-threads", "py-processes", "py-asyncio"}) {
    if (model_registry().find(name)) {
      EXPECT_EQ(left_out_of_build(name), "") << name;
      continue;
    }
    Spec spec;
    spec.workloads = {"cpu"};
    spec.models = {name};
    EXPECT_TRUE(throws_naming([&] { validate(spec); }, "is not in this build")) << name;
  }
  EXPECT_EQ(left_out_of_build("threads"), "");
}

// The model tests cover tbb and openmp where this build has them, except under ThreadSanitizer,
// which says so here with the reason.
TEST(RuntimeModels, AreInEveryModelTestButUnderThreadSanitizer) {
  if (testing::kThreadSanitizer) GTEST_SKIP() << testing::kRuntimesUnderTsan;
  const auto cases = testing::with_runtimes({});
  std::vector<std::string> names;
  for (const auto& c : cases) names.push_back(c.model);
  std::vector<std::string> built;
  for (const char* name : {"tbb", "openmp"}) {
    if (model_registry().find(name)) built.emplace_back(name);
  }
  EXPECT_EQ(names, built);
}

// CTest's names for these tests include the printed parameter: a case prints as its label, the
// same in every build (GoogleTest's default prints the object's bytes, pointers included).
TEST(ModelCase, PrintsAsItsLabel) {
  EXPECT_EQ(::testing::PrintToString(Case{"processes", "spawn"}), "processes_spawn");
  EXPECT_EQ(::testing::PrintToString(std::make_tuple(Case{"threads", "fork"}, std::size_t{7}, 2)),
            "(threads, 7, 2)");
}

class ThrowingTask : public ::testing::TestWithParam<Case> {};

TEST_P(ThrowingTask, IsRecordedAndTheOtherTasksStillRun) {
  const auto workload = make_workload({"throw_at3", {}});
  const auto pool = start_pool(GetParam().model, *workload, 2, GetParam().method);
  const BatchResult batch = pool->run(8);
  ASSERT_EQ(batch.tasks.size(), 8u);
  for (std::size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(batch.tasks[i].runs, 1u);
    if (i == 3) {
      EXPECT_EQ(batch.tasks[i].error, "boom at task 3");
    } else {
      EXPECT_TRUE(batch.tasks[i].error.empty());
      EXPECT_EQ(batch.tasks[i].checksum, i);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, ThrowingTask, ::testing::ValuesIn(all_models()),
                         [](const auto& info) { return info.param.label(); });

class Sleeping : public ::testing::TestWithParam<Case> {};

// 8 tasks of 100 ms on 8 workers overlap their waits: generous bound, 400 ms.
TEST_P(Sleeping, EightSleepsOnEightWorkersOverlap) {
  const auto workload = make_workload({"sleep100ms", {}});
  const auto pool = start_pool(GetParam().model, *workload, 8, GetParam().method);
  const BatchResult batch = pool->run(8);
  EXPECT_LT(batch.wall_s, 0.4);
  EXPECT_GE(batch.wall_s, 0.099);
}

INSTANTIATE_TEST_SUITE_P(
    Models, Sleeping,
    ::testing::ValuesIn(testing::with_runtimes({Case{"threads", "fork"}, Case{"processes", "fork"},
                                                Case{"processes", "spawn"}, Case{"async", "fork"},
                                                Case{"gil", "fork"}})),
    [](const auto& info) { return info.param.label(); });

class Controlled : public ::testing::TestWithParam<Case> {};

// A timeout that is not reached and a stop that is never requested change nothing.
TEST_P(Controlled, ABatchWithinItsTimeoutRunsAsUsual) {
  const auto workload = make_workload({"counting", {}});
  const auto pool = start_pool(GetParam().model, *workload, 3, GetParam().method);
  std::stop_source never;
  RunControl control;
  control.timeout = std::chrono::seconds(60);
  control.stop = never.get_token();
  for (int b = 0; b < 3; ++b) {
    const BatchResult batch = pool->run(50, control);
    ASSERT_EQ(batch.tasks.size(), 50u);
    for (std::size_t i = 0; i < 50; ++i) {
      EXPECT_EQ(batch.tasks[i].runs, 1u);
      EXPECT_EQ(batch.tasks[i].checksum, workload->expected_checksum(i));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, Controlled, ::testing::ValuesIn(all_models()),
                         [](const auto& info) { return info.param.label(); });

TEST(Async, NeverHasMoreThanWTasksInFlight) {
  const auto workload = make_workload(io_spec(std::chrono::milliseconds(2)));
  for (int workers : {1, 2, 7, 64}) {
    const auto pool = start_pool("async", *workload, workers);
    const BatchResult batch = pool->run(100);
    EXPECT_EQ(batch.max_in_flight, std::min(workers, 100)) << "W=" << workers;
  }
}

TEST(Async, CpuWorkBlocksTheLoop) {
  // Two CPU tasks on two lanes cannot overlap: the loop has one thread.
  const auto workload = make_workload(cpu_spec(2'000'000));
  const auto pool = start_pool("async", *workload, 2);
  const BatchResult batch = pool->run(2);
  const auto& a = batch.tasks[0];
  const auto& b = batch.tasks[1];
  EXPECT_TRUE(a.end_s <= b.start_s || b.end_s <= a.start_s);
}

TEST(Processes, WorkersRunInOtherProcessesAndReportTheirUsage) {
  const auto workload = make_workload(cpu_spec(3'000'000));
  for (const char* method : {"fork", "spawn"}) {
    const auto pool = start_pool("processes", *workload, 2, method);
    const BatchResult batch = pool->run(8);
    EXPECT_TRUE(batch.has_worker_usage);
    EXPECT_GT(batch.worker_usage.user_s + batch.worker_usage.sys_s, 0.0);
    EXPECT_GT(batch.worker_usage.max_rss_kib, 0);
  }
}

TEST(Processes, SpawnWithAMissingExecutableFailsToStartWithTheReason) {
  const auto workload = make_workload({"noop", {}});
  ModelOptions options = testing::with_start_method("spawn");
  options.worker_executable = "/nonexistent/scalelab";
  try {
    make_model("processes")->start(*workload, 2, options);
    FAIL() << "expected the pool not to start";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("did not start"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("/nonexistent/scalelab"), std::string::npos) << e.what();
  }
}

TEST(Processes, SpawnRebuildsTheWorkloadFromItsSpec) {
  // The cpu checksum depends on cpu_iters: a worker that lost the spec would differ.
  const auto workload = make_workload(cpu_spec(12345));
  const auto pool = start_pool("processes", *workload, 3, "spawn");
  const BatchResult batch = pool->run(6);
  for (std::size_t i = 0; i < batch.tasks.size(); ++i) {
    EXPECT_EQ(batch.tasks[i].checksum, cpu_loop(12345, i));
  }
}

TEST(Processes, APoolThatFailsToStartLeavesNoChildBehind) {
  const auto workload = make_workload({"noop", {}});
  ModelOptions options = testing::with_start_method("spawn");
  options.worker_executable = "/nonexistent/scalelab";
  EXPECT_ANY_THROW(make_model("processes")->start(*workload, 4, options));
  // Every worker forked before the failure was reaped: no child, not even a zombie, is left.
  int status = 0;
  errno = 0;
  EXPECT_EQ(::waitpid(-1, &status, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(Processes, ASpawnWorkerWhoseMainDidNotBecomeOneDoesNotStartMoreWorkers) {
  const auto workload = make_workload({"noop", {}});
  ::setenv("SCALELAB_WORKER", "1", 1);
  ModelOptions options = testing::with_start_method("spawn");
  try {
    make_model("processes")->start(*workload, 2, options);
    ADD_FAILURE() << "expected the pool to refuse";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("maybe_run_worker"), std::string::npos) << e.what();
  }
  ::unsetenv("SCALELAB_WORKER");
}

TEST(Pools, RefuseZeroWorkers) {
  const auto workload = make_workload({"noop", {}});
  for (const char* model : {"threads", "processes", "async", "gil"}) {
    EXPECT_THROW(make_model(model)->start(*workload, 0, {}), Error) << model;
    EXPECT_THROW(make_model(model)->start(*workload, -3, {}), Error) << model;
  }
}

TEST(Threads, WallClockStopsAtTheLastTasksEnd) {
  const auto workload = make_workload(io_spec(std::chrono::milliseconds(5)));
  const auto pool = start_pool("threads", *workload, 3);
  const BatchResult batch = pool->run(9);
  double last_end = 0;
  for (const auto& t : batch.tasks) last_end = std::max(last_end, t.end_s);
  EXPECT_DOUBLE_EQ(batch.wall_s, last_end);
}

TEST(Threads, ManyBatchesOnOnePool) {
  const auto workload = make_workload({"noop", {}});
  const auto pool = start_pool("threads", *workload, 4);
  for (int b = 0; b < 200; ++b) {
    const BatchResult batch = pool->run(static_cast<std::size_t>(b % 9));
    for (std::size_t i = 0; i < batch.tasks.size(); ++i) ASSERT_EQ(batch.tasks[i].runs, 1u);
  }
}

// The threads model at scale (issue 14): 2000 threads released at once, over batches of the same
// pool (a batch starts on a futex wake of every thread, not through a mutex), with fewer and
// more tasks than threads; every task runs once with its own checksum, and all 2000 wait at
// once (in a release build: a sanitizer's thread start-up can take longer than the wait).
TEST(ThreadsAtScale, EachTaskRunsOnceOn2000ThreadsBatchAfterBatch) {
  const auto workload = make_workload(io_spec(std::chrono::milliseconds(100)));
  const auto pool = start_pool("threads", *workload, 2000);
  for (const std::size_t tasks : {2000u, 500u, 4000u}) {
    const BatchResult batch = pool->run(tasks);
    ASSERT_EQ(batch.tasks.size(), tasks);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < tasks; ++i) {
      const auto& t = batch.tasks[i];
      wrong += t.runs != 1 || !t.error.empty() || t.checksum != workload->expected_checksum(i);
    }
    EXPECT_EQ(wrong, 0u) << tasks << " tasks";
    if (tasks <= 2000 && !testing::kAddressSanitizer && !testing::kThreadSanitizer) {
      double last_start = 0, first_end = batch.wall_s;
      for (const auto& t : batch.tasks) {
        last_start = std::max(last_start, t.start_s);
        first_end = std::min(first_end, t.end_s);
      }
      EXPECT_LT(last_start, first_end) << tasks << " tasks did not all wait at once";
    }
  }
}

// The pool's threads leave when it goes, whether it ran a batch or not (they park on the batch
// counter, and closing wakes them all): the test ends instead of waiting on a join.
TEST(ThreadsAtScale, APoolThatNeverRanEndsItsThreads) {
  const auto workload = make_workload({"noop", {}});
  for (int i = 0; i < 3; ++i) (void)start_pool("threads", *workload, 500);
}

TEST(Registry, UnknownModelIsAnErrorThatNamesTheFlagAndTheChoices) {
  EXPECT_TRUE(throws_naming([] { make_model("fibers"); }, "--model"));
  EXPECT_TRUE(throws_naming([] { make_model("fibers"); }, "threads"));
}

TEST(Serial, DoesNotUseWorkers) {
  EXPECT_FALSE(make_model("serial")->uses_workers());
  EXPECT_TRUE(make_model("threads")->uses_workers());
}

}  // namespace
}  // namespace scalelab
