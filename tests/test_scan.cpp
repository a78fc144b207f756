// Scan axes: a list given to a parameter (or to the task count) expands the plan into one point
// per combination; each trial records its point; the analysis has rows per point and
// conclusions across an axis.

#include <gtest/gtest.h>

#include <optional>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "scalelab/analysis.hpp"
#include "scalelab/error.hpp"
#include "scalelab/plan.hpp"
#include "scalelab/plugins.hpp"
#include "scalelab/resume.hpp"
#include "support/helpers.hpp"

namespace {

using namespace std::chrono_literals;
using scalelab::Plan;
using scalelab::Spec;

Spec io_scan() {
  Spec spec;
  spec.workloads = {"io"};
  spec.models = {"serial", "threads", "gil"};
  spec.workers = {2, 4};
  spec.tasks = {4, 8};
  spec.repeat = 2;
  spec.seed = 7;
  spec.params.set("io_wait_s", nlohmann::json::array({0.001, 0.002, 0.004}));
  spec.params.set("switch_interval_s", nlohmann::json::array({0.001, 0.005}));
  return spec;
}

Plan plan_of(const Spec& spec) {
  return scalelab::make_plan(spec, scalelab::resolve_workloads(spec).workloads, 2);
}

TEST(ScanAxes, ListsAreAxesInFieldOrderThenTasks) {
  const auto axes = scalelab::scan_axes(io_scan());
  ASSERT_EQ(axes.size(), 3u);
  EXPECT_EQ(axes[0].key, "io_wait_s");
  EXPECT_EQ(axes[1].key, "switch_interval_s");
  EXPECT_EQ(axes[2].key, "tasks");
  EXPECT_EQ(scalelab::scan_points(io_scan()).size(), 3u * 2u * 2u);
}

TEST(ScanAxes, NoListMeansOneEmptyPoint) {
  Spec spec = io_scan();
  spec.tasks = {8};
  spec.params = {};
  EXPECT_TRUE(scalelab::scan_axes(spec).empty());
  EXPECT_EQ(scalelab::scan_points(spec), std::vector<nlohmann::json>{nlohmann::json::object()});
}

TEST(ScanPlan, IsTheCartesianProductAndAModelAxisOnlyForItsModel) {
  const Spec spec = io_scan();
  const Plan plan = plan_of(spec);
  // One workload entry per (io-wait, tasks): the switch interval is gil's alone.
  ASSERT_EQ(plan.workloads.size(), 3u * 2u);
  // Per entry: serial 1 worker, threads 2 counts, gil 2 counts × 2 intervals; 2 repeats.
  EXPECT_EQ(plan.counted(), 6u * (1 + 2 + 2 * 2) * 2);
  std::map<std::string, std::set<std::string>> points_by_model;
  for (const auto& t : plan.trials) {
    const nlohmann::json point = scalelab::trial_point(plan, t);
    EXPECT_TRUE(point.contains("io_wait_s"));
    EXPECT_TRUE(point.contains("tasks"));
    EXPECT_EQ(point.contains("switch_interval_s"), t.model == "gil") << point.dump();
    EXPECT_EQ(point["tasks"].get<std::size_t>(), plan.workloads[t.workload].tasks);
    points_by_model[t.model].insert(point.dump());
  }
  EXPECT_EQ(points_by_model["threads"].size(), 6u);
  EXPECT_EQ(points_by_model["gil"].size(), 12u);
}

TEST(ScanPlan, EachPointResolvesItsOwnValues) {
  const Plan plan = plan_of(io_scan());
  for (const auto& w : plan.workloads) {
    EXPECT_DOUBLE_EQ(w.spec.params.number("io_wait_s"), w.point.at("io_wait_s").get<double>());
  }
  // The model gets the trial's own interval, not the list.
  for (const auto& t : plan.trials) {
    if (t.model != "gil") continue;
    const auto options = scalelab::trial_options(plan, t);
    EXPECT_EQ(options.params.json().at("switch_interval_s"), t.model_point.at("switch_interval_s"));
  }
}

TEST(ScanPlan, TheOrderIsShuffledBySeed) {
  Spec a = io_scan(), b = io_scan();
  b.seed = 8;
  const auto keys = [](const Plan& plan) {
    std::vector<std::string> out;
    for (const auto& t : plan.trials) {
      out.push_back(scalelab::trial_point(plan, t).dump() + t.model + std::to_string(t.workers) +
                    std::to_string(t.repeat));
    }
    return out;
  };
  EXPECT_EQ(keys(plan_of(a)), keys(plan_of(a)));
  EXPECT_NE(keys(plan_of(a)), keys(plan_of(b)));
}

TEST(ScanPlan, WorkersAtTasksRunsOneWorkerPerTask) {
  Spec spec = io_scan();
  spec.workers.clear();
  spec.workers_at_tasks = true;
  spec.models = {"threads"};
  spec.params = {};
  const Plan plan = plan_of(spec);
  for (const auto& t : plan.trials) {
    EXPECT_EQ(static_cast<std::size_t>(t.workers), plan.workloads[t.workload].tasks);
  }
}

TEST(ScanSpec, TheRecordedSpecGivesTheSamePlan) {
  const Spec spec = io_scan();
  const Spec back = scalelab::spec_from_json(scalelab::to_json(spec));
  EXPECT_EQ(back.tasks, spec.tasks);
  EXPECT_EQ(scalelab::scan_points(back), scalelab::scan_points(spec));
  const Plan a = plan_of(spec), b = plan_of(back);
  ASSERT_EQ(a.trials.size(), b.trials.size());
  for (std::size_t i = 0; i < a.trials.size(); ++i) {
    EXPECT_EQ(scalelab::trial_point(a, a.trials[i]), scalelab::trial_point(b, b.trials[i]));
    EXPECT_EQ(a.trials[i].model, b.trials[i].model);
  }
}

TEST(ScanSpec, ARecordedListIsHeldToTheDeclaration) {
  nlohmann::json json = scalelab::to_json(io_scan());
  json["io_wait_s"] = nlohmann::json::array({0.001, -1});
  EXPECT_THROW(scalelab::spec_from_json(json), scalelab::Error);
  json["io_wait_s"] = nlohmann::json::array({0.001, 0.001});
  EXPECT_TRUE(
      scalelab::testing::throws_naming([&] { scalelab::spec_from_json(json); }, "listed twice"));
}

TEST(ScanSpec, ParsedFlagListsBecomeAxes) {
  const auto values = scalelab::parse_typed({{"io-wait", "1ms,10ms"}}, {"io-wait"});
  EXPECT_EQ(values.json().at("io_wait_s"), nlohmann::json::array({0.001, 0.01}));
  // One value is no scan.
  const auto one = scalelab::parse_typed({{"io-wait", "10ms"}}, {"io-wait"});
  EXPECT_EQ(one.json().at("io_wait_s"), 0.01);
}

// Trials at two tasks points: threads and async, async pulling ahead as tasks grow.
std::vector<scalelab::Trial> two_points() {
  std::vector<scalelab::Trial> trials;
  const auto add = [&](const std::string& model, int workers, std::size_t tasks, double wall) {
    for (int r = 0; r < 3; ++r) {
      auto t = scalelab::testing::make_trial("io", model, workers, r, wall * (1 + 0.001 * r));
      t.point = {{"tasks", tasks}};
      t.user_s = 0.0;
      trials.push_back(t);
    }
  };
  for (const std::size_t tasks : {100u, 1000u}) {
    const double n = static_cast<double>(tasks);
    add("serial", 1, tasks, 0.01 * n);
    add("threads", 8, tasks, 0.01 * n / 8);
    add("async", 8, tasks, tasks == 100 ? 0.01 * n / 8 : 0.01 * n / 24);
  }
  return trials;
}

TEST(ScanAnalysis, RowsPerPointAndAConclusionAcrossTheAxis) {
  scalelab::AnalysisOptions options;
  options.cores = 2;
  const std::vector<scalelab::ScanAxis> axes{{"tasks", {100, 1000}}};
  const auto a =
      scalelab::analyze_points(two_points(), {"io"}, {"serial", "threads", "async"}, options, axes);
  ASSERT_EQ(a.points.size(), 2u);
  EXPECT_EQ(a.points[0], (nlohmann::json{{"tasks", 100}}));
  EXPECT_EQ(a.rows.size(), 6u);
  for (const auto& row : a.rows) EXPECT_TRUE(row.point.contains("tasks"));
  const auto across = std::find_if(a.conclusions.begin(), a.conclusions.end(), [](const auto& c) {
    return c.text.find("lead over") != std::string::npos;
  });
  ASSERT_NE(across, a.conclusions.end());
  EXPECT_NE(across->text.find("async's lead over threads grew from"), std::string::npos)
      << across->text;
  EXPECT_NE(across->text.find("tasks=1000"), std::string::npos) << across->text;
  // And where each model's speedup went along the axis.
  const auto speedups = std::find_if(a.conclusions.begin(), a.conclusions.end(), [](const auto& c) {
    return c.text.find("speedup from") != std::string::npos;
  });
  ASSERT_NE(speedups, a.conclusions.end());
  EXPECT_EQ(speedups->text,
            "io at 8 workers, speedup from tasks=100 to tasks=1000: threads 8.00× → 8.00×, async "
            "8.00× → 24.00×");
}

// threads and async at 8 workers on io at tasks=100 and tasks=1000, each trial 1 s, except
// async's at tasks=100, which take `async_at_100` s; and the first conclusion that holds `text`.
std::optional<std::string> along_tasks(double async_at_100, const std::string& text) {
  std::vector<scalelab::Trial> trials;
  for (const std::size_t tasks : {100u, 1000u}) {
    for (int r = 0; r < 3; ++r) {
      for (const char* model : {"threads", "async"}) {
        const double wall = tasks == 100 && std::string(model) == "async" ? async_at_100 : 1.0;
        auto t = scalelab::testing::make_trial("io", model, 8, r, wall * (1 + 0.001 * r));
        t.point = {{"tasks", tasks}};
        t.user_s = 0.0;
        trials.push_back(t);
      }
    }
  }
  scalelab::AnalysisOptions options;
  options.cores = 2;
  const auto a = scalelab::analyze_points(trials, {"io"}, {"threads", "async"}, options,
                                          {{"tasks", {100, 1000}}});
  for (const auto& c : a.conclusions) {
    if (c.text.find(text) != std::string::npos) return c.text;
  }
  return std::nullopt;
}

// Level at the last point but not at the first (async half as fast at tasks=100): not level.
TEST(ScanAnalysis, ModelsThatConvergeAreNotSaidToStayLevel) {
  EXPECT_EQ(along_tasks(2.0, "stayed level"), std::nullopt);
  EXPECT_EQ(along_tasks(2.0, "lead over"),
            "io: at 8 workers, threads' lead over async shrank from 2.00× at tasks=100 to 1.00× "
            "at tasks=1000");
}

// Two models level at both ends: no "lead" is claimed for either.
TEST(ScanAnalysis, ModelsLevelAlongTheAxisAreSaidToStayLevel) {
  EXPECT_EQ(along_tasks(1.0, "stayed level"),
            "io: at 8 workers, threads and async stayed level (within 5 %) from tasks=100 to "
            "tasks=1000");
  EXPECT_EQ(along_tasks(1.0, "lead over"), std::nullopt);
}

TEST(ScanAnalysis, ATrialOfAModelWithoutTheAxisCountsAtEveryValue) {
  std::vector<scalelab::Trial> trials;
  for (int r = 0; r < 3; ++r) {
    trials.push_back(scalelab::testing::make_trial("cpu", "serial", 1, r, 1.0));
    for (const double interval : {0.001, 0.005}) {
      auto t = scalelab::testing::make_trial("cpu", "gil", 2, r, 1.0);
      t.point = {{"switch_interval_s", interval}};
      trials.push_back(t);
    }
  }
  scalelab::AnalysisOptions options;
  const auto a = scalelab::analyze_points(trials, {"cpu"}, {"serial", "gil"}, options,
                                          {{"switch_interval_s", {0.001, 0.005}}});
  ASSERT_EQ(a.points.size(), 2u);
  // serial's trials are the baseline at both intervals.
  for (const auto& row : a.rows) {
    if (row.model == "gil") {
      EXPECT_EQ(row.baseline, "serial");
    }
  }
  EXPECT_EQ(std::count_if(a.rows.begin(), a.rows.end(),
                          [](const auto& r) { return r.model == "serial"; }),
            2);
}

}  // namespace

namespace {

// --workers tasks: every point at its own worker count, so no count is shared along the axis;
// the comparison is at one worker per task.
TEST(ScanAnalysis, WithOneWorkerPerTaskTheLeadIsComparedAtEachPointsOwnCount) {
  std::vector<scalelab::Trial> trials;
  const auto add = [&](const std::string& model, std::size_t tasks, double wall) {
    for (int r = 0; r < 3; ++r) {
      auto t = scalelab::testing::make_trial("io", model, static_cast<int>(tasks), r,
                                             wall * (1 + 0.001 * r));
      t.point = {{"tasks", tasks}};
      t.user_s = 0.0;
      trials.push_back(t);
    }
  };
  add("threads", 10, 0.051);
  add("async", 10, 0.050);
  add("threads", 1000, 0.150);
  add("async", 1000, 0.050);
  scalelab::AnalysisOptions options;
  options.cores = 2;
  const auto a = scalelab::analyze_points(trials, {"io"}, {"threads", "async"}, options,
                                          {{"tasks", {10, 1000}}});
  const auto across = std::find_if(a.conclusions.begin(), a.conclusions.end(), [](const auto& c) {
    return c.text.find("lead over") != std::string::npos;
  });
  ASSERT_NE(across, a.conclusions.end());
  EXPECT_NE(across->text.find("with one worker per task, async's lead over threads grew from"),
            std::string::npos)
      << across->text;
  EXPECT_NE(across->text.find("3.0"), std::string::npos) << across->text;
}

}  // namespace
