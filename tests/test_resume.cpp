// Resuming a run: the recorded spec read back, and the plan less the trials on record.

#include <gtest/gtest.h>

#include <set>
#include <tuple>

#include "scalelab/error.hpp"
#include "scalelab/resume.hpp"
#include "support/helpers.hpp"

namespace {

scalelab::Spec small_spec() {
  return scalelab::testing::small_sweep({"serial", "threads", "async"}, {1, 2, 4}, 8, 2, 77);
}

scalelab::RecordedRun recorded_run(const scalelab::Spec& spec, std::size_t trials_done) {
  const auto resolved = scalelab::resolve_workloads(spec);
  const auto plan = scalelab::make_plan(spec, resolved.workloads, 2);
  scalelab::RecordedRun run;
  nlohmann::json workload_specs = nlohmann::json::array();
  for (const auto& w : resolved.workloads) workload_specs.push_back(scalelab::to_json(w.spec));
  run.header = scalelab::run_header_from_json({{"type", "header"},
                                               {"spec", scalelab::to_json(spec)},
                                               {"environment", {{"usable_cores", 2}}},
                                               {"workload_specs", workload_specs},
                                               {"planned_trials", plan.counted()}});
  for (const auto& p : plan.trials) {
    if (p.warmup()) continue;
    if (run.trials.size() == trials_done) break;
    scalelab::Trial t;
    t.workload = plan.workloads[p.workload].spec.name;
    t.model = p.model;
    t.workers = p.workers;
    t.repeat = p.repeat;
    run.trials.push_back(t);
  }
  return run;
}

using Key = std::tuple<std::string, std::string, int, int>;

std::set<Key> counted_keys(const scalelab::Plan& plan) {
  std::set<Key> keys;
  for (const auto& t : plan.trials) {
    if (!t.warmup())
      keys.insert({plan.workloads[t.workload].spec.name, t.model, t.workers, t.repeat});
  }
  return keys;
}

TEST(Resume, TheRecordedSpecReadsBackAsTheSameSpec) {
  auto spec = small_spec();
  spec.models.push_back("processes");  // the model that takes --start-method
  spec.params.set("start_method", "spawn");
  spec.warmup = false;
  const auto back = scalelab::spec_from_json(scalelab::to_json(spec));
  EXPECT_EQ(back.workloads, spec.workloads);
  EXPECT_EQ(back.models, spec.models);
  EXPECT_EQ(back.workers, spec.workers);
  EXPECT_EQ(back.tasks, spec.tasks);
  EXPECT_EQ(back.repeat, spec.repeat);
  EXPECT_EQ(back.seed, spec.seed);
  EXPECT_EQ(back.warmup, spec.warmup);
  EXPECT_EQ(back.params.work("cpu_work").iters, spec.params.work("cpu_work").iters);
  EXPECT_EQ(back.params.duration("io_wait_s"), spec.params.duration("io_wait_s"));
  EXPECT_EQ(back.params.text("start_method"), "spawn");
  EXPECT_EQ(scalelab::selected_params(back), scalelab::selected_params(spec));
  EXPECT_EQ(scalelab::to_json(back), scalelab::to_json(spec));

  spec.workers.clear();  // "auto"
  spec.params.set("cpu_work", {{"duration_s", 0.003}});
  EXPECT_EQ(scalelab::to_json(scalelab::spec_from_json(scalelab::to_json(spec))),
            scalelab::to_json(spec));

  // A workload's own models (the default experiment's pairing) come back, and are checked.
  spec.workload_models = {{spec.workloads.front(), {spec.models.front()}}};
  EXPECT_EQ(scalelab::spec_from_json(scalelab::to_json(spec)).workload_models,
            spec.workload_models);
  auto json = scalelab::to_json(spec);
  json["workload_models"][spec.workloads.front()] = {"no-such-model"};
  EXPECT_THROW(scalelab::spec_from_json(json), scalelab::Error);
  json["workload_models"] = "all";
  EXPECT_THROW(scalelab::spec_from_json(json), scalelab::Error);
}

TEST(Resume, ADamagedSpecIsAnErrorNotACrash) {
  auto json = scalelab::to_json(small_spec());
  for (const char* key : {"workloads", "tasks", "seed", "cpu_work", "io_wait_s"}) {
    auto damaged = json;
    damaged.erase(key);
    EXPECT_THROW(scalelab::spec_from_json(damaged), scalelab::Error) << key;
  }
  auto wrong = json;
  wrong["tasks"] = "many";
  EXPECT_THROW(scalelab::spec_from_json(wrong), scalelab::Error);
  wrong = json;
  wrong["io_wait_s"] = -1;
  EXPECT_THROW(scalelab::spec_from_json(wrong), scalelab::Error);
  wrong = json;
  wrong["models"] = {"no-such-model"};
  EXPECT_THROW(scalelab::spec_from_json(wrong), scalelab::Error);
  EXPECT_THROW(scalelab::spec_from_json(nlohmann::json::array()), scalelab::Error);
}

TEST(Resume, OnlyTheTrialsNotOnRecordRemainEachGroupWarmedAgain) {
  const auto spec = small_spec();
  const auto all = recorded_run(spec, 1000);
  const std::size_t planned = all.trials.size();
  for (std::size_t done : {std::size_t{0}, std::size_t{1}, planned / 2, planned - 1, planned}) {
    const auto run = recorded_run(spec, done);
    const auto resumption = scalelab::plan_resumption(run);
    EXPECT_EQ(resumption.planned, planned);
    EXPECT_EQ(resumption.recorded, done);
    EXPECT_EQ(resumption.plan.counted(), planned - done);
    EXPECT_EQ(resumption.spec.seed, spec.seed);
    // Together, the recorded and the remaining trials are the whole plan, once each.
    auto keys = counted_keys(resumption.plan);
    for (const auto& t : run.trials) {
      EXPECT_TRUE(keys.insert({t.workload, t.model, t.workers, t.repeat}).second);
    }
    EXPECT_EQ(keys.size(), planned);
    // A warm-up right before each remaining group's first trial, and nowhere else.
    std::set<std::tuple<std::size_t, std::string, int>> warmed;
    const auto& trials = resumption.plan.trials;
    for (std::size_t i = 0; i < trials.size(); ++i) {
      const auto group = std::tuple{trials[i].workload, trials[i].model, trials[i].workers};
      if (trials[i].warmup()) {
        ASSERT_LT(i + 1, trials.size());
        EXPECT_FALSE(trials[i + 1].warmup());
        EXPECT_EQ(std::tuple(trials[i + 1].workload, trials[i + 1].model, trials[i + 1].workers),
                  group);
        EXPECT_TRUE(warmed.insert(group).second);
      } else {
        EXPECT_TRUE(warmed.contains(group));
      }
    }
  }
}

TEST(Resume, TheRemainingTrialsKeepThePlansOrder) {
  const auto spec = small_spec();
  const auto full = recorded_run(spec, 1000);
  const auto half = recorded_run(spec, full.trials.size() / 2);
  const auto resumption = scalelab::plan_resumption(half);
  std::vector<Key> remaining;
  for (const auto& t : resumption.plan.trials) {
    if (!t.warmup()) {
      remaining.emplace_back(resumption.plan.workloads[t.workload].spec.name, t.model, t.workers,
                             t.repeat);
    }
  }
  std::vector<Key> expected;
  for (std::size_t i = half.trials.size(); i < full.trials.size(); ++i) {
    const auto& t = full.trials[i];
    expected.emplace_back(t.workload, t.model, t.workers, t.repeat);
  }
  EXPECT_EQ(remaining, expected);
}

TEST(Resume, RecordsWithoutResolvedWorkloadsCannotBeResumed) {
  auto run = recorded_run(small_spec(), 3);
  run.header.workload_specs = nlohmann::json::array();
  EXPECT_THROW(scalelab::plan_resumption(run), scalelab::Error);
}

}  // namespace
