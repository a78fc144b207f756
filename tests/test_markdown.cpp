// render_markdown: checked byte for byte against tests/golden/report.md, rendered from the
// hand-built fixture in tests/report/report_fixture.hpp.
//
// When a change to the report is intended, regenerate the golden file and review its diff:
//   SCALELAB_UPDATE_GOLDEN=1 build/test_markdown
// (the test then rewrites tests/golden/report.md instead of comparing, and still passes).

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "report/markup_check.hpp"
#include "report/report_fixture.hpp"
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

  ReportInput bare;
  const std::string unknown = render_markdown(bare);
  EXPECT_TRUE(testing::contains_all(unknown, {"- CPU: unknown\n", "- Kernel: unknown\n",
                                              "- Seed: unknown\n", "No trials on record."}));
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

TEST(Markdown, FitsShowValuesAndRefusals) {
  const std::string report = render_markdown(report_fixture());
  EXPECT_TRUE(testing::contains_all(
      report, {"| threads | 4 | 0.0123 | 0.931 | 0.0214 | 0.0613 | 4.0 | 0.998 |  |",
               "| processes | 3 | — | — | — | — | — | — | not fitted: needs at least 4 distinct "
               "worker counts, has 3 |"}));
}

TEST(Markdown, InterruptedRunSaysHowManyTrials) {
  ReportInput input = report_fixture();
  EXPECT_EQ(render_markdown(input).find("Interrupted"), std::string::npos);
  input.interrupted = true;
  input.planned_trials = 60;
  input.recorded_trials = 40;
  EXPECT_NE(render_markdown(input).find("Interrupted: 40 of 60 planned trials recorded."),
            std::string::npos);
}

TEST(Markdown, PipesInNamesDoNotBreakTables) {
  ReportInput input = report_fixture();
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
  ReportInput input = report_fixture();
  input.warnings = {"a <script> and *stars*"};
  const std::string report = render_markdown(input);
  EXPECT_NE(report.find("- a &lt;script> and \\*stars\\*\n"), std::string::npos) << report;
}

}  // namespace
}  // namespace scalelab
