// A run into a results folder as one library call: the records, the final files, the
// observer's calls, a stop before and during the trials, and resuming what a stop left.

#include <gtest/gtest.h>

#include <filesystem>
#include <stop_token>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scalelab/error.hpp"
#include "scalelab/records.hpp"
#include "scalelab/session.hpp"
#include "support/helpers.hpp"

namespace {
namespace fs = std::filesystem;
using scalelab::testing::read_file;

scalelab::Spec small_spec() {
  return scalelab::testing::small_sweep({"serial", "threads"}, {1, 2}, 4, 2, 3);
}

class SessionTest : public scalelab::testing::ScratchDirTest {};

TEST_F(SessionTest, RunsAnExperimentIntoItsFolderAndTellsTheObserver) {
  std::vector<std::string> phases;
  std::vector<scalelab::SessionStart> starts;
  std::size_t trials_seen = 0, counted_seen = 0;
  scalelab::SessionObserver observer;
  observer.on_phase = [&](const std::string& p) { phases.push_back(p); };
  observer.on_start = [&](const scalelab::SessionStart& s) { starts.push_back(s); };
  observer.on_trial = [&](const scalelab::Trial& t, std::size_t done, std::size_t total) {
    ++trials_seen;
    if (!t.warmup()) ++counted_seen;
    EXPECT_LE(done, total);
    // Each counted trial is on disk before the observer hears of it.
    if (!t.warmup()) {
      EXPECT_EQ(scalelab::read_records(dir_ / "out").trials.size(), counted_seen);
    }
  };
  const auto result = scalelab::run_session(small_spec(), dir_ / "out", observer);

  // cpu and io × (serial at 1, threads at 1 and 2) × 2 repeats, each group warmed once.
  EXPECT_EQ(counted_seen, 12u);
  EXPECT_EQ(trials_seen, 18u);
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].planned, 12u);
  EXPECT_EQ(starts[0].to_run, 12u);
  EXPECT_EQ(starts[0].warmups, 6u);
  EXPECT_FALSE(starts[0].resumed);
  EXPECT_EQ(phases.front(), "calibration");
  EXPECT_EQ(phases.back(), "writing the final files and reports");
  EXPECT_TRUE(result.stopped_before_start.empty());
  EXPECT_FALSE(result.interrupted());
  EXPECT_TRUE(result.failures.empty());
  EXPECT_EQ(result.analysis.recorded_trials, 12u);
  for (const char* name :
       {"results.jsonl", "results.csv", "results.json", "report.md", "report.html"}) {
    EXPECT_TRUE(fs::is_regular_file(dir_ / "out" / name)) << name;
  }
  const auto recorded = scalelab::read_records(dir_ / "out");
  EXPECT_EQ(recorded.header.kind, "sweep");
  EXPECT_EQ(recorded.header.planned_trials, 12u);
  EXPECT_EQ(recorded.header.warmup_trials, 6u);
  EXPECT_EQ(recorded.header.workload_specs.size(), 2u);
  EXPECT_FALSE(recorded.interrupted);
}

TEST_F(SessionTest, AStopBeforeTheFirstTrialWritesNothing) {
  std::stop_source stop;
  stop.request_stop();
  scalelab::SessionObserver observer;
  observer.stop = stop.get_token();
  const auto result = scalelab::run_session(small_spec(), dir_ / "out", observer);
  EXPECT_EQ(result.stopped_before_start, "calibration");
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(SessionTest, AStoppedRunKeepsItsTrialsAndResumingFinishesIt) {
  std::stop_source stop;
  scalelab::SessionObserver observer;
  observer.stop = stop.get_token();
  observer.stop_cause = [] { return std::string("SIGINT"); };
  std::size_t counted = 0;
  observer.on_trial = [&](const scalelab::Trial& t, std::size_t, std::size_t) {
    if (!t.warmup() && ++counted == 5) stop.request_stop();
  };
  const auto first = scalelab::run_session(small_spec(), dir_ / "out", observer);
  EXPECT_EQ(first.run.end, scalelab::RunEnd::stopped);
  EXPECT_TRUE(first.interrupted());
  EXPECT_EQ(first.analysis.recorded_trials, 5u);
  EXPECT_TRUE(first.analysis.interrupted);
  const std::string text = read_file(dir_ / "out" / "results.jsonl");
  EXPECT_NE(text.find(R"("signal":"SIGINT")"), std::string::npos) << text;
  EXPECT_TRUE(fs::is_regular_file(dir_ / "out" / "report.md"));

  std::vector<scalelab::SessionStart> starts;
  scalelab::SessionObserver again;
  again.on_start = [&](const scalelab::SessionStart& s) { starts.push_back(s); };
  const auto second = scalelab::resume_session(dir_ / "out", again);
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_TRUE(starts[0].resumed);
  EXPECT_EQ(starts[0].recorded, 5u);
  EXPECT_EQ(starts[0].to_run, 7u);
  EXPECT_FALSE(second.interrupted());
  EXPECT_EQ(second.analysis.recorded_trials, 12u);
  EXPECT_FALSE(second.analysis.interrupted);
  EXPECT_EQ(second.analysis.analysis.rows.size(), 6u);
}

TEST_F(SessionTest, ResumingAFolderWithoutRecordsIsAnError) {
  EXPECT_TRUE(scalelab::testing::throws_naming([&] { scalelab::resume_session(dir_, {}); },
                                               "results.jsonl"));
}

TEST_F(SessionTest, ASpecThatCannotRunIsRefusedBeforeAnythingIsWritten) {
  scalelab::Spec spec = small_spec();
  spec.workloads = {"cpu"};
  spec.workers = {0};  // not a worker count: validate() refuses it
  EXPECT_THROW(scalelab::run_session(spec, dir_ / "out", {}), scalelab::Error);
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST(RunHeader, RoundTripsThroughItsJson) {
  scalelab::RunHeader header;
  header.kind = "granularity";
  header.spec = {{"model", "threads"}};
  header.environment = {{"usable_cores", 2}};
  header.calibration = {{"cpu", {{"iters_per_s", 1e8}}}};
  header.workload_specs = nlohmann::json::array({{{"name", "cpu"}}});
  header.planned_trials = 9;
  header.warmup_trials = 2;
  const auto back = scalelab::run_header_from_json(scalelab::to_json(header));
  EXPECT_EQ(scalelab::to_json(back), scalelab::to_json(header));
  EXPECT_EQ(back.kind, "granularity");
  EXPECT_EQ(back.planned_trials, 9u);
}

TEST(RunHeader, OlderHeadersAreSweepsAndMissingFieldsKeepTheirDefaults) {
  const auto back = scalelab::run_header_from_json({{"type", "header"}, {"spec", {{"tasks", 4}}}});
  EXPECT_EQ(back.kind, "sweep");
  EXPECT_FALSE(back.planned_trials.has_value());
  EXPECT_TRUE(back.workload_specs.is_array());
  EXPECT_TRUE(back.environment.is_object());
}

TEST(RunHeader, ALineThatIsNotAHeaderOrHasNoSpecIsRefused) {
  EXPECT_THROW(scalelab::run_header_from_json({{"type", "trial"}}), scalelab::Error);
  EXPECT_THROW(scalelab::run_header_from_json({{"type", "header"}}), scalelab::Error);
  EXPECT_THROW(scalelab::run_header_from_json({{"type", "header"}, {"spec", {}}, {"kind", 3}}),
               scalelab::Error);
}

}  // namespace
