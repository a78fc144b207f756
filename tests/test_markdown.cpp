// render_markdown: checked byte for byte against tests/golden/report.md, rendered from the
// hand-built fixture in tests/report/report_fixture.hpp.
//
// When a change to the report is intended, regenerate the golden file and review its diff:
//   SCALELAB_UPDATE_GOLDEN=1 build/test_markdown
// (the test then rewrites tests/golden/report.md instead of comparing, and still passes).

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "report/markup_check.hpp"
#include "report/report_fixture.hpp"
#include "scalelab/records.hpp"
#include "scalelab/report.hpp"
#include "support/helpers.hpp"

namespace scalelab {
namespace {

namespace fs = std::filesystem;
using testing::report_fixture;

// Next to this source file, so the test finds it from any build folder.
const fs::path golden_path = fs::path(__FILE__).parent_path() / "golden" / "report.md";

TEST(Markdown, MatchesGoldenFile) {
  const std::string report = render_markdown(report_fixture());
  const char* update = std::getenv("SCALELAB_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(golden_path, std::ios::binary) << report;
    GTEST_SKIP() << "rewrote " << golden_path;
  }
  const std::string golden = testing::read_file(golden_path);
  ASSERT_FALSE(golden.empty()) << "missing " << golden_path
                               << "; SCALELAB_UPDATE_GOLDEN=1 writes it";
  EXPECT_EQ(report, golden) << "to accept the new report: SCALELAB_UPDATE_GOLDEN=1 test_markdown";
}

TEST(Markdown, SameInputSameBytes) {
  EXPECT_EQ(render_markdown(report_fixture()), render_markdown(report_fixture()));
}

TEST(Markdown, HasEverySection) {
  const std::string report = render_markdown(report_fixture());
  EXPECT_EQ(report.rfind("# scalelab report\n", 0), 0u);
  EXPECT_TRUE(testing::contains_all(
      report, {"\n## Run\n", "\n## Environment\n", "\n## Warnings\n", "\n## cpu (CPU-bound)\n",
               "\n## io (wait-bound)\n", "\n### Fits\n", "\n## Conclusions\n"}));
  // Sections in order: run, environment, warnings, workloads, conclusions.
  EXPECT_LT(report.find("## Run"), report.find("## Environment"));
  EXPECT_LT(report.find("## Environment"), report.find("## Warnings"));
  EXPECT_LT(report.find("## Warnings"), report.find("## cpu"));
  EXPECT_LT(report.find("## cpu"), report.find("## io"));
  EXPECT_LT(report.find("## io"), report.find("## Conclusions"));
}

TEST(Markdown, RunAndEnvironmentFromTheRecordedJson) {
  const std::string report = render_markdown(report_fixture());
  EXPECT_TRUE(testing::contains_all(
      report,
      {"- Workloads: cpu, io\n", "- Models: serial, threads, processes\n",
       "- Workers: 1, 2, 4, 8\n", "- Tasks per trial: 32\n", "- Seed: 3\n",
       "CPU work 15ms per task", "I/O wait 20ms per task", "- Start method: fork\n",
       "- CPU: AMD EPYC 7B13\n", "- Cores: 2 logical, 1 physical, 2 usable\n",
       "- Governor: unknown\n", "- Load average (1 min): 0.31\n", "- scalelab version: 0.1.0\n"}));
  // Neither the GIL nor mixed was selected, so their settings are not shown.
  EXPECT_EQ(report.find("GIL switch"), std::string::npos);
  EXPECT_EQ(report.find("mixed tasks"), std::string::npos);

  AnalysedRun bare;
  const std::string unknown = render_markdown(bare);
  EXPECT_TRUE(testing::contains_all(unknown, {"- CPU: unknown\n", "- Kernel: unknown\n",
                                              "- Seed: unknown\n", "No trials on record."}));
}

// A selected plug-in's settings are shown in its declaration's words: mixed's in the task-size
// line, the gil model's switch interval on a line of its own (as the start method is).
TEST(EveryOutput, MixedAndGilSettingsAreShownWhenSelected) {
  AnalysedRun input = report_fixture();
  input.spec["workloads"] = {"cpu", "io", "mixed"};
  input.spec["models"] = {"serial", "threads", "gil"};
  const std::string report = render_markdown(input);
  EXPECT_TRUE(testing::contains_all(
      report, {"- Task sizes: CPU work 15ms per task (calibrated to iterations); I/O wait 20ms per "
               "task; mixed tasks 50 % computing; mixed tasks of 20ms\n",
               "- GIL switch interval: 5ms\n"}));
  EXPECT_EQ(report.find("Start method"), std::string::npos);  // processes was not selected
  const std::string html = render_html(input);
  EXPECT_TRUE(testing::contains_all(html, {"mixed tasks 50 % computing; mixed tasks of 20ms</li>",
                                           "<li>GIL switch interval: 5ms</li>"}));
  EXPECT_EQ(html.find("Start method"), std::string::npos);
}

// How an embedded runtime was linked changes its speed, so both reports say it when recorded.
TEST(EveryOutput, EmbeddedRuntimesAreShownWhenRecorded) {
  AnalysedRun input = report_fixture();
  EXPECT_EQ(render_markdown(input).find("Embedded runtimes"), std::string::npos);
  input.environment["runtimes"] = {
      {"python", {{"version", "3.11.2"}, {"library", "/opt/bin/scalelab"}, {"linking", "static"}}}};
  EXPECT_NE(render_markdown(input).find("- Embedded runtimes: python 3.11.2, linked into the "
                                        "executable (/opt/bin/scalelab)\n"),
            std::string::npos)
      << render_markdown(input);
  input.environment["runtimes"]["python"]["linking"] = "shared";
  input.environment["runtimes"]["python"]["library"] = "/lib/libpython3.11.so.1.0";
  const std::string html = render_html(input);
  EXPECT_NE(html.find("python 3.11.2, shared library /lib/libpython3.11.so.1.0"),
            std::string::npos);
  EXPECT_NE(html.find("Embedded runtimes"), std::string::npos);
}

TEST(Markdown, TableShowsCiNoisyAndFailed) {
  const std::string report = render_markdown(report_fixture());
  EXPECT_TRUE(testing::contains_all(
      report,
      {"| model | workers | median | 95 % CI | CV | p90 | speedup (95 % CI) | efficiency | ideal "
       "| CPU util | note |",
       "| threads | 2 | 246.94ms | [244.718ms, 249.903ms] | 2.6 % |",
       "| 2.00× [1.97×, 2.03×] | 100 % | 2.00× | 1.95 |", "noisy: CV 7.1 % > 5 % |", "| 2 failed |",
       "| processes | 8 | — | — | — | — | — | — | 8.00× | — | 3 failed |"}));
}

TEST(Markdown, TableFlagsImpossibleFiguresAndDisturbedTrials) {
  const std::string report = render_markdown(report_fixture());
  EXPECT_TRUE(testing::contains_all(
      report,
      {"| 8.20× [8.05×, 8.31×] | 103 % | 8.00× | 0.01 | impossible: speedup 8.20× above the "
       "ideal 8× (95 % CI 8.05×–8.31×) and efficiency 103 % above 100 % (95 % CI 101–104 %); "
       "likely cause: the baseline ran slower than this point's workers could (serial's median "
       "647.264ms is more than 8× this point's 78.9ms) |",
       "| 2.07 | impossible: CPU use 2.07 cores above the 2 usable; likely cause: a measurement "
       "window (2.07 cores busy",
       "| 1.99 | 2 disturbed, left out |",
       "| 0.03 | 6 disturbed, 3 used (no undisturbed trial) |"}));
}

TEST(Markdown, WithoutSerialTheBaselineIsNamed) {
  AnalysedRun input = report_fixture();
  input.analysis.workloads[0].baseline_model = "threads";
  EXPECT_NE(render_markdown(input).find("Baseline CPU use 0.99 cores per wall second (threads at "
                                        "1 worker: no serial run); 32 tasks per trial.\n"),
            std::string::npos);
  EXPECT_NE(render_markdown(report_fixture())
                .find("Baseline CPU use 0.99 cores per wall second; 32 tasks per trial.\n"),
            std::string::npos);
}

TEST(Markdown, FitsShowValuesAndRefusals) {
  const std::string report = render_markdown(report_fixture());
  EXPECT_TRUE(testing::contains_all(
      report, {"| threads | 4 | 0.0123 | 0.931 | 0.0214 | 0.0613 | 4.0 | 0.998 |  |",
               "| processes | 3 | — | — | — | — | — | — | not fitted: needs at least 4 distinct "
               "worker counts, has 3 |"}));
}

// A point's tail latencies (its tasks pooled over the trials in its figures) get a table under
// its workload; points without tasks on record have no line, and a workload with none has no
// table.
TEST(Markdown, TailLatenciesPerPoint) {
  AnalysedRun input = report_fixture();
  EXPECT_EQ(render_markdown(input).find("### Tail latencies"), std::string::npos);
  SummaryRow* io_threads = nullptr;
  for (SummaryRow& row : input.analysis.rows) {
    if (row.workload == "io" && row.model == "threads" && io_threads == nullptr) io_threads = &row;
  }
  ASSERT_NE(io_threads, nullptr);
  for (int i = 1; i <= 1000; ++i) io_threads->task_duration.add(0.020 + 1e-6 * i);
  io_threads->start_delay.add(0.0);
  io_threads->start_delay.add(0.003);
  const std::string report = render_markdown(input);
  const auto table = report.find("### Tail latencies");
  ASSERT_NE(table, std::string::npos);
  EXPECT_GT(table, report.find("## io"));
  // Quantiles are their bucket's middle, clamped to [min, max]: 20.447 ms for 20.5, 2.949 for 3.
  EXPECT_NE(report.find(fmt::format("| threads | {} | 20.447ms | 21ms | 21ms | 21ms | 0ns | "
                                    "2.949ms | 3ms | 1000 ({} × {}) |",
                                    io_threads->workers, io_threads->tasks, io_threads->trials),
                        table),
            std::string::npos)
      << report.substr(table, 600);
}

TEST(Markdown, InterruptedRunSaysHowManyTrials) {
  AnalysedRun input = report_fixture();
  EXPECT_EQ(render_markdown(input).find("Interrupted"), std::string::npos);
  input.interrupted = true;
  input.planned_trials = 60;
  input.recorded_trials = 40;
  EXPECT_NE(render_markdown(input).find("Interrupted: 40 of 60 planned trials recorded."),
            std::string::npos);
}

TEST(Markdown, PipesInNamesDoNotBreakTables) {
  AnalysedRun input = report_fixture();
  for (SummaryRow& row : input.analysis.rows) {
    if (row.model == "threads") row.model = "th|reads";
  }
  input.analysis.rows[3].noise_reason = "CI overlaps | 8 workers";
  for (ScalingFit& fit : input.analysis.fits) {
    if (fit.model == "threads") fit.model = "th|reads";
  }
  const std::string report = render_markdown(input);
  EXPECT_NE(report.find("| th\\|reads | 2 |"), std::string::npos);
  EXPECT_NE(report.find("noisy: CI overlaps \\| 8 workers"), std::string::npos);
  // Every row of every table has as many unescaped pipes as its header.
  std::size_t expected = 0;
  for (const std::string& line : testing::lines_of(report)) {
    if (line.empty() || line[0] != '|') {
      expected = 0;
      continue;
    }
    std::size_t pipes = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '\\') {
        ++i;
      } else if (line[i] == '|') {
        ++pipes;
      }
    }
    if (expected == 0) expected = pipes;
    EXPECT_EQ(pipes, expected) << line;
  }
}

TEST(Markdown, NamesCannotInjectMarkup) {
  AnalysedRun input = report_fixture();
  input.warnings = {"a <script> and *stars*"};
  const std::string report = render_markdown(input);
  EXPECT_NE(report.find("- a &lt;script> and \\*stars\\*\n"), std::string::npos) << report;
}

TEST(Markdown, ErrorTextCannotMakeLinksEntitiesOrEmphasis) {
  AnalysedRun input = report_fixture();
  input.warnings = {"see [here](javascript:alert(1)) &lt; _under_ [1ms, 2ms]"};
  const std::string report = render_markdown(input);
  EXPECT_NE(report.find("- see [here]\\(javascript:alert(1)) &amp;lt; \\_under\\_ [1ms, 2ms]\n"),
            std::string::npos)
      << report;
}

// --- every output, from records ------------------------------------------------------------

// A recorded run on 2 cores with an impossible speedup (cpu, threads at 2 workers: 2.5×), an
// impossible CPU use (noop, threads at 2 workers: 2.4 cores) and a point whose first attempt
// was disturbed and rerun (cpu, threads at 4 workers).
RecordedRun impossible_run() {
  RecordedRun run;
  run.header.spec = {
      {"workloads", {"cpu", "noop"}}, {"models", {"serial", "threads"}}, {"seed", 5}};
  run.header.environment = {{"usable_cores", 2}};
  run.header.planned_trials = 15;
  const auto add = [&](const std::string& workload, const std::string& model, int workers,
                       const std::vector<double>& walls, double util) {
    for (std::size_t r = 0; r < walls.size(); ++r) {
      Trial t = testing::make_trial(workload, model, workers, static_cast<int>(r), walls[r]);
      t.user_s = walls[r] * util;
      run.trials.push_back(t);
    }
  };
  add("cpu", "serial", 1, {1.0, 1.001, 0.999}, 1.0);
  add("cpu", "threads", 2, {0.4, 0.401, 0.399}, 2.0);
  add("cpu", "threads", 4, {0.9, 0.51, 0.5}, 1.98);
  run.trials[run.trials.size() - 3].disturbed = true;  // repeat 0's first attempt, rerun below
  Trial rerun = testing::make_trial("cpu", "threads", 4, 0, 0.52);
  rerun.user_s = 0.52 * 1.98;
  rerun.attempt = 1;
  run.trials.push_back(rerun);
  add("noop", "threads", 1, {0.04, 0.04, 0.04}, 1.0);
  add("noop", "threads", 2, {0.04, 0.04, 0.04}, 2.4);
  return run;
}

TEST(EveryOutput, ImpossibleFiguresAndDisturbedTrialsAreFlaggedEverywhere) {
  const RecordedRun run = impossible_run();
  const AnalysedRun input = analyze_run(run);
  const char* const speedup = "impossible: speedup 2.50× above the ideal 2× (95 % CI ";
  const char* const speedup_cause =
      "likely cause: the baseline ran slower than this point's workers could (serial used 1s "
      "of CPU for the tasks, this point 800ms)";
  const char* const cpu =
      "impossible: CPU use 2.40 cores above the 2 usable; likely cause: a "
      "measurement window (2.40 cores busy on average over 40ms trials";
  const char* const disturbed = "1 disturbed, left out";

  std::ostringstream console;
  print_console_tables(console, input.analysis.rows);
  EXPECT_TRUE(testing::contains_all(console.str(), {speedup, speedup_cause, cpu, disturbed}))
      << console.str();

  EXPECT_TRUE(
      testing::contains_all(render_markdown(input), {speedup, speedup_cause, cpu, disturbed}));

  // The page escapes the apostrophes; the table rows and the chart markers carry the flag.
  const std::string page = render_html(input);
  EXPECT_TRUE(testing::contains_all(
      page, {speedup, "likely cause: the baseline ran slower than this point&#39;s workers could",
             cpu, disturbed, "<tr class=\"impossible\">", "<title>impossible</title>",
             ">impossible figure</text>"}));

  const nlohmann::json all = results_json(run, input);
  std::size_t flagged = 0;
  for (const auto& row : all.at("summary")) {
    if (!row.at("impossible").get<bool>()) continue;
    ++flagged;
    EXPECT_FALSE(row.at("impossible_figures").empty()) << row.dump();
  }
  EXPECT_EQ(flagged, 2u);
  for (const auto& row : all.at("summary")) {
    if (row.at("workload") == "cpu" && row.at("workers") == 4) {
      EXPECT_EQ(row.at("trials"), 3);
      EXPECT_EQ(row.at("records"), 4);
      EXPECT_EQ(row.at("disturbed"), 1);
    }
  }
  std::string conclusions;
  for (const auto& c : all.at("conclusions")) conclusions += c.at("text").get<std::string>() + "\n";
  EXPECT_TRUE(testing::contains_all(
      conclusions,
      {"threads on cpu at 2 workers shows an impossible figure, not a result: speedup 2.50× "
       "above the ideal 2×",
       speedup_cause,
       "threads on noop at 2 workers shows an impossible figure, not a result: CPU "
       "use 2.40 cores above the 2 usable; likely cause: a measurement window",
       "1 of the 10 trials of cpu on record was disturbed (another process took the CPUs "
       "it needed); the figures leave it out."}))
      << conclusions;
  // A workload without a serial run names the baseline it used.
  EXPECT_NE(conclusions.find("noop is CPU-bound: with no serial run, its baseline (threads at 1 "
                             "worker) kept 1.00 cores busy."),
            std::string::npos)
      << conclusions;
  EXPECT_EQ(all.at("workloads").at(1).at("baseline"), "threads@1");
  EXPECT_EQ(all.at("workloads").at(0).at("baseline"), "serial");
}

}  // namespace
}  // namespace scalelab
