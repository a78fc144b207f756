// Spec validation, default worker counts, and the plan: which trials, how many, in what order.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "scalelab/error.hpp"
#include "scalelab/plan.hpp"
#include "scalelab/workload.hpp"
#include "support/helpers.hpp"

namespace {

using namespace std::chrono_literals;
using scalelab::Bound;
using scalelab::default_workers;
using scalelab::make_plan;
using scalelab::Plan;
using scalelab::Spec;
using scalelab::validate;
using scalelab::WorkloadSpec;

// validate(spec) throws scalelab::Error whose message names `flag` (or whatever it must name).
::testing::AssertionResult rejects_naming(const Spec& spec, const std::string& flag) {
  return scalelab::testing::throws_naming([&] { validate(spec); }, flag);
}

// The workload specs make_plan expects: one per spec.workloads entry, sizes resolved.
std::vector<WorkloadSpec> resolved(const Spec& spec) {
  std::vector<WorkloadSpec> out;
  for (const auto& name : spec.workloads) {
    WorkloadSpec ws{name, {}};
    ws.params.set("cpu_iters", 1000);
    ws.params.set_duration("io_wait_s", 1ms);
    out.push_back(ws);
  }
  return out;
}

Spec small_spec() {
  Spec spec;
  spec.workloads = {"cpu", "io"};
  spec.models = {"serial", "threads", "processes", "async"};
  spec.workers = {1, 2, 4};
  spec.tasks = {8};
  spec.repeat = 3;
  spec.seed = 42;
  spec.params.set("cpu_work", {{"iters", 1000}});
  spec.params.set_duration("io_wait_s", 1ms);
  return spec;
}

using Group = std::tuple<std::size_t, std::string, int>;     // (workload, model, workers)
using Key = std::tuple<std::size_t, std::string, int, int>;  // + repeat

std::vector<Key> keys_of(const Plan& plan) {
  std::vector<Key> keys;
  for (const auto& t : plan.trials) keys.emplace_back(t.workload, t.model, t.workers, t.repeat);
  return keys;
}

// --- validate -------------------------------------------------------------------------------

TEST(PlanValidate, AcceptsTheDefaultSpec) {
  EXPECT_NO_THROW(validate(Spec{}));
}

TEST(PlanValidate, AcceptsASmallSpecAndTestFixtures) {
  EXPECT_NO_THROW(validate(small_spec()));
  Spec spec = small_spec();
  spec.workloads = {"counting", "throw_at3", "sleep100ms", "noop"};
  spec.models = {"corrupt"};
  spec.params = {};  // none of these takes --cpu-work or --io-wait
  EXPECT_NO_THROW(validate(spec));
}

TEST(PlanValidate, RejectsAnUnknownModel) {
  Spec spec = small_spec();
  spec.models = {"serial", "fibers"};
  EXPECT_TRUE(rejects_naming(spec, "--model"));
  EXPECT_TRUE(rejects_naming(spec, "fibers"));
}

TEST(PlanValidate, RejectsAnUnknownWorkload) {
  Spec spec = small_spec();
  spec.workloads = {"cpu", "gpu"};
  EXPECT_TRUE(rejects_naming(spec, "--workload"));
  EXPECT_TRUE(rejects_naming(spec, "gpu"));
}

TEST(PlanValidate, RejectsEmptyNameLists) {
  Spec spec = small_spec();
  spec.models.clear();
  EXPECT_TRUE(rejects_naming(spec, "--model"));
  spec = small_spec();
  spec.workloads.clear();
  EXPECT_TRUE(rejects_naming(spec, "--workload"));
}

TEST(PlanValidate, RejectsRepeatBelowOne) {
  Spec spec = small_spec();
  spec.repeat = 0;
  EXPECT_TRUE(rejects_naming(spec, "--repeat"));
  spec.repeat = -2;
  EXPECT_TRUE(rejects_naming(spec, "--repeat"));
}

TEST(PlanValidate, RejectsWorkerCountsBelowOne) {
  Spec spec = small_spec();
  spec.workers = {1, 0, 4};
  EXPECT_TRUE(rejects_naming(spec, "--workers"));
  spec.workers = {-3};
  EXPECT_TRUE(rejects_naming(spec, "--workers"));
}

TEST(PlanValidate, RejectsNoCpuWork) {
  Spec spec = small_spec();
  spec.params.set("cpu_work", {{"iters", 0}});
  EXPECT_TRUE(rejects_naming(spec, "--cpu-work"));
  spec.params.set("cpu_work", {{"duration_s", 0.0}});
  EXPECT_TRUE(rejects_naming(spec, "--cpu-work"));
  spec.params.set("cpu_work", {{"duration_s", -0.005}});
  EXPECT_TRUE(rejects_naming(spec, "--cpu-work"));
  spec.params.set("cpu_work", {{"duration_s", 0.005}});
  EXPECT_NO_THROW(validate(spec));
}

TEST(PlanValidate, RejectsNegativeIoWaitAndIoRefusesNone) {
  Spec spec = small_spec();
  spec.params.set_duration("io_wait_s", -1ms);
  EXPECT_TRUE(rejects_naming(spec, "--io-wait"));
  // 0 is a wait of none, which the socket workload takes (a bare round trip); io refuses it.
  spec.params.set_duration("io_wait_s", 0ns);
  EXPECT_NO_THROW(validate(spec));
  try {
    (void)scalelab::make_workload(scalelab::testing::io_spec(0ns));
    ADD_FAILURE() << "io took a wait of 0";
  } catch (const scalelab::Error& e) {
    EXPECT_NE(std::string(e.what()).find("--io-wait"), std::string::npos) << e.what();
  }
}

TEST(PlanValidate, RejectsAParameterNoSelectedPluginTakes) {
  // Set but read by no selected workload or model, it would be ignored without a word.
  Spec spec = small_spec();
  spec.workloads = {"cpu"};
  EXPECT_TRUE(rejects_naming(spec, "--io-wait"));
#if SCALELAB_HAVE_PYTHON  // python-io takes it too
  EXPECT_TRUE(
      rejects_naming(spec, "only the io, socket, python-io workloads use it; add one of them"));
#else
  EXPECT_TRUE(rejects_naming(spec, "only the io, socket workloads use it; add one of them"));
#endif
  spec = small_spec();
  spec.params.set("start_method", "spawn");
  spec.models = {"serial", "threads"};
  EXPECT_TRUE(rejects_naming(spec, "--start-method"));
#if SCALELAB_HAVE_PYTHON  // py-processes takes it too
  EXPECT_TRUE(rejects_naming(spec, "only the processes, py-processes models use it"));
#else
  EXPECT_TRUE(rejects_naming(spec, "add processes to --model"));
#endif
  spec.models = {"serial", "processes"};
  EXPECT_NO_THROW(validate(spec));
  spec.params.set("no_such_param", 1);
  EXPECT_TRUE(rejects_naming(spec, "no_such_param"));
}

TEST(PlanValidate, RejectsZeroTasks) {
  // "Checks every name and number in spec": a trial of zero tasks measures nothing.
  Spec spec = small_spec();
  spec.tasks = {0};
  EXPECT_TRUE(rejects_naming(spec, "--tasks"));
}

// --- default_workers ------------------------------------------------------------------------

TEST(PlanDefaultWorkers, CpuBoundGoesToTwiceTheCores) {
  EXPECT_EQ(default_workers(Bound::cpu, 32, 2), (std::vector<int>{1, 2, 4}));
  EXPECT_EQ(default_workers(Bound::cpu, 32, 8), (std::vector<int>{1, 2, 4, 8, 16}));
  EXPECT_EQ(default_workers(Bound::cpu, 32, 1), (std::vector<int>{1, 2}));
  EXPECT_EQ(default_workers(Bound::cpu, 32, 3), (std::vector<int>{1, 2, 4, 6}));
}

TEST(PlanDefaultWorkers, CpuBoundDoesNotDependOnTasks) {
  EXPECT_EQ(default_workers(Bound::cpu, 1, 2), default_workers(Bound::cpu, 1000, 2));
}

TEST(PlanDefaultWorkers, WaitingGoesToTheTaskCount) {
  EXPECT_EQ(default_workers(Bound::wait, 32, 2), (std::vector<int>{1, 2, 4, 8, 16, 32}));
  EXPECT_EQ(default_workers(Bound::wait, 12, 2), (std::vector<int>{1, 2, 4, 8, 12}));
  EXPECT_EQ(default_workers(Bound::wait, 12, 64), (std::vector<int>{1, 2, 4, 8, 12}));
  EXPECT_EQ(default_workers(Bound::wait, 1, 4), (std::vector<int>{1}));
}

TEST(PlanDefaultWorkers, StopsAtTheDefaultCapHoweverManyTasks) {
  const auto workers = default_workers(Bound::wait, 100000, 2);
  EXPECT_EQ(workers.back(), scalelab::kMaxDefaultWorkers);
  EXPECT_EQ(workers.size(), 11u);  // 1, 2, 4, …, 1024
  EXPECT_EQ(default_workers(Bound::cpu, 32, 4096).back(), scalelab::kMaxDefaultWorkers);
}

// --- make_plan ------------------------------------------------------------------------------

TEST(PlanMake, TrialCountIsWorkloadsTimesWorkerListsTimesRepeat) {
  const Spec spec = small_spec();
  const Plan plan = make_plan(spec, resolved(spec), 2);
  // Per workload: serial 1 + threads, processes, async × 3 worker counts = 10 points.
  EXPECT_EQ(plan.counted(), 2u * (1 + 3 * 3) * 3);
  EXPECT_EQ(plan.trials.size() - plan.counted(), 2u * (1 + 3 * 3));
  const auto specs = resolved(spec);
  ASSERT_EQ(plan.workloads.size(), specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    EXPECT_EQ(plan.workloads[i].spec, specs[i]);
    EXPECT_EQ(plan.workloads[i].tasks, spec.tasks.front());
    EXPECT_TRUE(plan.workloads[i].point.empty());
  }
}

TEST(PlanMake, SerialRunsOnlyAtOneWorker) {
  const Spec spec = small_spec();
  const Plan plan = make_plan(spec, resolved(spec), 2);
  std::size_t serial = 0;
  for (const auto& t : plan.trials) {
    if (t.model == "serial") {
      EXPECT_EQ(t.workers, 1);
      if (!t.warmup()) ++serial;
    }
  }
  EXPECT_EQ(serial, 2u * 3);
}

TEST(PlanMake, EveryCountedTrialAppearsExactlyOnce) {
  const Spec spec = small_spec();
  const Plan plan = make_plan(spec, resolved(spec), 2);
  std::map<Key, int> seen;
  for (const auto& t : plan.trials) {
    if (!t.warmup()) ++seen[{t.workload, t.model, t.workers, t.repeat}];
  }
  std::size_t expected = 0;
  for (std::size_t w = 0; w < spec.workloads.size(); ++w) {
    for (const auto& model : spec.models) {
      const std::vector<int> workers = model == "serial" ? std::vector<int>{1} : spec.workers;
      for (int count : workers) {
        for (int r = 0; r < spec.repeat; ++r) {
          ++expected;
          EXPECT_EQ((seen[{w, model, count, r}]), 1)
              << w << " " << model << " " << count << " " << r;
        }
      }
    }
  }
  EXPECT_EQ(seen.size(), expected);  // nothing that was not asked for
}

TEST(PlanMake, OneWarmUpPerGroupDirectlyBeforeItsFirstCountedTrial) {
  const Spec spec = small_spec();
  const Plan plan = make_plan(spec, resolved(spec), 2);
  std::map<Group, int> warmups;
  std::set<Group> started;
  for (std::size_t i = 0; i < plan.trials.size(); ++i) {
    const auto& t = plan.trials[i];
    const Group group{t.workload, t.model, t.workers};
    if (t.warmup()) {
      EXPECT_EQ(t.repeat, -1);
      ++warmups[group];
      EXPECT_FALSE(started.count(group)) << "warm-up after a counted trial of its group";
      ASSERT_LT(i + 1, plan.trials.size()) << "warm-up is the last trial";
      const auto& next = plan.trials[i + 1];
      EXPECT_FALSE(next.warmup());
      EXPECT_EQ((Group{next.workload, next.model, next.workers}), group);
    } else {
      EXPECT_TRUE(warmups.count(group)) << "counted trial before its group's warm-up";
      started.insert(group);
    }
  }
  EXPECT_EQ(warmups.size(), started.size());
  for (const auto& [group, count] : warmups) EXPECT_EQ(count, 1);
}

TEST(PlanMake, DuplicateWorkerCountsOrModelsNeverDuplicateATrial) {
  // A library user may fill Spec by hand (the CLI's parsers already de-duplicate). Either
  // validate() refuses the duplicate, or the plan still holds each counted trial once.
  for (const bool duplicate_model : {false, true}) {
    Spec spec = small_spec();
    if (duplicate_model) {
      spec.models = {"threads", "serial", "threads"};
    } else {
      spec.workers = {2, 1, 2};
    }
    try {
      validate(spec);
    } catch (const scalelab::Error& e) {
      EXPECT_NE(std::string(e.what()).find(duplicate_model ? "--model" : "--workers"),
                std::string::npos)
          << e.what();
      continue;
    }
    const Plan plan = make_plan(spec, resolved(spec), 2);
    std::map<Key, int> seen;
    for (const auto& t : plan.trials) {
      if (!t.warmup()) ++seen[{t.workload, t.model, t.workers, t.repeat}];
    }
    std::size_t duplicated = 0;
    std::string example;
    for (const auto& [key, count] : seen) {
      if (count == 1) continue;
      ++duplicated;
      example = std::get<1>(key) + "@" + std::to_string(std::get<2>(key)) + " repeat " +
                std::to_string(std::get<3>(key)) + " x" + std::to_string(count);
    }
    EXPECT_EQ(duplicated, 0u) << (duplicate_model ? "duplicate model: " : "duplicate workers: ")
                              << "e.g. " << example;
  }
}

TEST(PlanMake, SameSeedSameOrder) {
  const Spec spec = small_spec();
  EXPECT_EQ(keys_of(make_plan(spec, resolved(spec), 2)),
            keys_of(make_plan(spec, resolved(spec), 2)));
}

TEST(PlanMake, DifferentSeedDifferentOrder) {
  Spec a = small_spec();
  Spec b = small_spec();
  a.seed = 1;
  b.seed = 2;
  // 60 trials: two seeds giving the same permutation has a negligible chance.
  EXPECT_NE(keys_of(make_plan(a, resolved(a), 2)), keys_of(make_plan(b, resolved(b), 2)));
}

TEST(PlanMake, OrderIsShuffled) {
  Spec spec = small_spec();
  spec.warmup = false;
  const auto keys = keys_of(make_plan(spec, resolved(spec), 2));
  auto nested = keys;
  std::sort(nested.begin(), nested.end());
  EXPECT_NE(keys, nested);
  // Not simply grouped by workload either: the workloads interleave.
  std::size_t switches = 0;
  for (std::size_t i = 1; i < keys.size(); ++i) {
    if (std::get<0>(keys[i]) != std::get<0>(keys[i - 1])) ++switches;
  }
  EXPECT_GT(switches, 1u);
}

TEST(PlanMake, NoWarmUpsWhenDisabled) {
  Spec spec = small_spec();
  spec.warmup = false;
  const Plan plan = make_plan(spec, resolved(spec), 2);
  EXPECT_EQ(plan.counted(), plan.trials.size());
  EXPECT_EQ(plan.trials.size(), 2u * 10 * 3);
  for (const auto& t : plan.trials) EXPECT_FALSE(t.warmup());
}

TEST(PlanMake, WarmUpDoesNotChangeTheCountedOrder) {
  Spec with = small_spec();
  Spec without = small_spec();
  without.warmup = false;
  std::vector<Key> counted;
  for (const auto& t : make_plan(with, resolved(with), 2).trials) {
    if (!t.warmup()) counted.emplace_back(t.workload, t.model, t.workers, t.repeat);
  }
  EXPECT_EQ(counted, keys_of(make_plan(without, resolved(without), 2)));
}

TEST(PlanMake, DefaultWorkersDependOnTheWorkload) {
  Spec spec = small_spec();
  spec.workers.clear();
  spec.tasks = {12};
  spec.models = {"serial", "threads"};
  spec.warmup = false;
  spec.repeat = 1;
  const Plan plan = make_plan(spec, resolved(spec), 2);
  std::map<std::size_t, std::vector<int>> threads;
  for (const auto& t : plan.trials) {
    if (t.model == "threads") threads[t.workload].push_back(t.workers);
  }
  for (auto& [w, counts] : threads) std::sort(counts.begin(), counts.end());
  EXPECT_EQ(threads[0], default_workers(Bound::cpu, 12, 2));   // cpu: 1, 2, 4
  EXPECT_EQ(threads[1], default_workers(Bound::wait, 12, 2));  // io: 1, 2, 4, 8, 12
  EXPECT_EQ(plan.counted(), 2u + 3 + 5);
}

TEST(PlanMake, OneRepeatOneModel) {
  Spec spec = small_spec();
  spec.workloads = {"counting"};
  spec.models = {"threads"};
  spec.workers = {3};
  spec.repeat = 1;
  const Plan plan = make_plan(spec, resolved(spec), 2);
  ASSERT_EQ(plan.trials.size(), 2u);
  EXPECT_TRUE(plan.trials[0].warmup());
  EXPECT_FALSE(plan.trials[1].warmup());
  EXPECT_EQ(plan.trials[1].model, "threads");
  EXPECT_EQ(plan.trials[1].workers, 3);
  EXPECT_EQ(plan.trials[1].repeat, 0);
  EXPECT_EQ(plan.counted(), 1u);
}

// --- to_json(Spec) --------------------------------------------------------------------------

TEST(PlanSpecJson, RecordsWhatDecidesTheRun) {
  const Spec spec = small_spec();
  const auto json = scalelab::to_json(spec);
  EXPECT_EQ(json.at("workloads"), nlohmann::json({"cpu", "io"}));
  EXPECT_EQ(json.at("models"), nlohmann::json({"serial", "threads", "processes", "async"}));
  EXPECT_EQ(json.at("workers"), nlohmann::json({1, 2, 4}));
  EXPECT_EQ(json.at("tasks"), 8);
  EXPECT_EQ(json.at("repeat"), 3);
  EXPECT_EQ(json.at("seed"), 42);
  EXPECT_EQ(json.at("cpu_work").at("iters"), 1000);
  EXPECT_DOUBLE_EQ(json.at("io_wait_s").get<double>(), 0.001);
  EXPECT_EQ(json.at("start_method"), "fork");
  Spec auto_workers = spec;
  auto_workers.workers.clear();
  EXPECT_EQ(scalelab::to_json(auto_workers).at("workers"), "auto");
}

}  // namespace

namespace {

TEST(PlanUnsupported, APairTheWorkloadRefusesIsAnErrorOrLeftOut) {
  // A model the workload cannot run under: an Error naming --model when the user named both,
  // left out of the plan (and said) otherwise.
  Spec spec;
  spec.workloads = {"refuses_async"};
  spec.models = {"serial", "async"};
  spec.workers = {1};
  spec.repeat = 1;
  spec.skip_unsupported = false;
  EXPECT_TRUE(
      scalelab::testing::throws_naming([&] { scalelab::resolve_workloads(spec); }, "--model"));
  spec.skip_unsupported = true;
  const auto resolved = scalelab::resolve_workloads(spec);
  const Plan plan = make_plan(spec, resolved.workloads, 2);
  ASSERT_EQ(plan.skipped.size(), 1u);
  EXPECT_NE(plan.skipped[0].find("refuses_async under async"), std::string::npos);
  for (const auto& t : plan.trials) EXPECT_EQ(t.model, "serial");
}

// --- estimate_plan --------------------------------------------------------------------------

// cpu (10 ms of CPU a task at the calibrated 1 M iterations/s) and io (10 ms waits), 8 tasks,
// under serial, threads and async at W = 2, one repeat, no warm-up, on 2 cores.
Plan estimate_fixture(std::vector<WorkloadSpec> workloads,
                      std::vector<std::string> models = {"serial", "threads", "async"}) {
  Spec spec;
  spec.workloads.clear();
  for (const auto& w : workloads) spec.workloads.push_back(w.name);
  spec.models = std::move(models);
  spec.workers = {2};
  spec.tasks = {8};
  spec.repeat = 1;
  spec.warmup = false;
  return make_plan(spec, std::move(workloads), 2);
}

TEST(EstimatePlan, FollowsEachModelsCpuParallelismAndTheWaitsItOverlaps) {
  const nlohmann::json calibration{{"cpu", {{"iters_per_s", 1e6}}}};
  const Plan plan =
      estimate_fixture({scalelab::testing::cpu_spec(10'000), scalelab::testing::io_spec(10ms)});
  const auto estimate = scalelab::estimate_plan(plan, calibration, 2);
  EXPECT_EQ(estimate.unknown_trials, 0u);
  // cpu: serial 0.08 s, threads 0.04 s (2 cores), async 0.08 s (one loop), the reference
  // checksum one task's 0.01 s; io: serial 8 waits 0.08 s, threads and async 4 rounds of 2
  // waits 0.04 s each.
  EXPECT_NEAR(estimate.seconds, 0.21 + 0.16, 1e-9);
  // One core: threads' CPU work no longer halves.
  EXPECT_NEAR(scalelab::estimate_plan(plan, calibration, 1).seconds, 0.25 + 0.16, 1e-9);
}

#if SCALELAB_HAVE_PYTHON
TEST(EstimatePlan, AWorkloadUnderTheGilRunsItsCpuWorkOneTaskAtATimeInAProcess) {
  const Plan plan = estimate_fixture({WorkloadSpec{"python", {{{"cpu_iters", 10'000}}}}},
                                     {"threads", "processes"});
  const nlohmann::json calibration{{"python", {{"iters_per_s", 1e6}}}};
  // threads 8 × 0.01 s one at a time, processes two at a time, and the reference task.
  EXPECT_NEAR(scalelab::estimate_plan(plan, calibration, 2).seconds, 0.08 + 0.04 + 0.01, 1e-9);
}
#endif

TEST(EstimatePlan, TrialsOfUnknownTaskTimeAreCountedApart) {
  // CPU work in iterations with no calibrated speed, and a workload with no task sizes at all.
  const Plan plan =
      estimate_fixture({scalelab::testing::cpu_spec(10'000), WorkloadSpec{"noop", {}}});
  const auto estimate = scalelab::estimate_plan(plan, nlohmann::json::object(), 2);
  EXPECT_EQ(estimate.unknown_trials, 6u);
  EXPECT_EQ(estimate.seconds, 0);
  EXPECT_NE(scalelab::estimate_text(estimate).find("at least"), std::string::npos);
  EXPECT_NE(scalelab::estimate_text(estimate).find("6 trials of unknown task time"),
            std::string::npos);
}

TEST(EstimatePlan, TextRoundsToWhatAPersonReads) {
  const auto text = [](double s) { return scalelab::estimate_text({s, 0}); };
  EXPECT_EQ(text(0.44), "about 440ms");
  EXPECT_EQ(text(3.21), "about 3.2s");
  EXPECT_EQ(text(42.4), "about 42s");
  EXPECT_EQ(text(65), "about 1m05s");
  EXPECT_EQ(text(7260), "about 2h01m");
  // Where rounding would carry into the next unit, the next unit reads it.
  EXPECT_EQ(text(0.9996), "about 1.0s");
  EXPECT_EQ(text(9.97), "about 10s");
  EXPECT_EQ(text(59.6), "about 1m00s");
  EXPECT_EQ(text(3599.7), "about 1h00m");
}

}  // namespace
