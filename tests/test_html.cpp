// render_html: one self-contained, well-formed page with the report's tables and three charts
// per workload, nothing fetched from anywhere.
//
// With SCALELAB_HTML_OUT=FILE set, SelfContainedPage also writes the fixture's page to FILE, for
// a look in a browser or for tests/report/check_html.py.

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "report/markup_check.hpp"
#include "report/report_fixture.hpp"
#include "scalelab/report.hpp"
#include "support/helpers.hpp"

namespace scalelab {
namespace {

using testing::count_of;
using testing::report_fixture;
using testing::well_formed;

TEST(Html, SelfContainedPage) {
  const std::string page = render_html(report_fixture());
  if (const char* out = std::getenv("SCALELAB_HTML_OUT")) {
    std::ofstream(out, std::ios::binary) << page;
  }
  EXPECT_EQ(page.rfind("<!doctype html>\n", 0), 0u);
  EXPECT_TRUE(testing::contains_all(
      page,
      {"<meta charset=\"utf-8\">", "<title>scalelab report</title>", "<style>\n", "</html>\n"}));
  for (const char* outside : {"http://", "https://", "<script", "<link", "@import", "url("}) {
    EXPECT_EQ(page.find(outside), std::string::npos) << outside;
  }
  EXPECT_TRUE(well_formed(page));
}

TEST(Html, ThreeChartsPerWorkload) {
  const std::string page = render_html(report_fixture());
  EXPECT_EQ(count_of(page, "<svg"), 6u);
  EXPECT_TRUE(testing::contains_all(
      page, {">cpu: median wall time</text>", ">cpu: speedup</text>", ">cpu: efficiency</text>",
             ">io: median wall time</text>", ">io: speedup</text>", ">io: efficiency</text>",
             ">median wall time (ms)</text>", ">workers (log scale)</text>"}));
  // The ideal line on each speedup chart and the serial level on each wall-time chart, dashed.
  EXPECT_EQ(count_of(page, "<g class=\"series\" data-name=\"ideal\">\n<polyline"), 2u);
  EXPECT_EQ(count_of(page, "<g class=\"series\" data-name=\"serial\">\n<polyline"), 2u);
  EXPECT_EQ(count_of(page, "stroke-dasharray"), 8u) << "4 lines and their 4 legend entries";
}

TEST(Html, SameContentAsMarkdown) {
  const std::string page = render_html(report_fixture());
  EXPECT_TRUE(testing::contains_all(
      page,
      {"<h2>Run</h2>", "<h2>Environment</h2>", "<h2>Warnings</h2>", "<h2>cpu (CPU-bound)</h2>",
       "<h2>io (wait-bound)</h2>", "<h3>Fits</h3>", "<h2>Conclusions</h2>",
       "<li>CPU: AMD EPYC 7B13</li>", "<li>Governor: unknown</li>", "<td>246.94ms</td>",
       "<td>[244.718ms, 249.903ms]</td>", "<td>2.00× [1.97×, 2.03×]</td>",
       "not fitted: needs at least 4 distinct worker", "<td class=\"text\">2 failed</td>",
       "<td class=\"text\">3 failed</td>", "Load average 1.52 at start"}));
}

TEST(Html, NoisyRowsAreMarkedInTableAndChart) {
  const std::string page = render_html(report_fixture());
  EXPECT_NE(page.find("<tr class=\"noisy\">"), std::string::npos);
  EXPECT_NE(page.find("noisy: CV 7.1 % &gt; 5 %"), std::string::npos);
  // One noisy point, drawn hollow on each of the cpu charts.
  EXPECT_EQ(count_of(page, "<title>noisy</title>"), 3u);

  AnalysedRun quiet = report_fixture();
  for (SummaryRow& row : quiet.analysis.rows) row.noisy = false;
  EXPECT_EQ(count_of(render_html(quiet), "<title>noisy</title>"), 0u);
}

TEST(Html, ImpossibleRowsAreMarkedInTableAndChart) {
  const std::string page = render_html(report_fixture());
  // io threads at 8 workers (speedup) and cpu processes at 4 (CPU use).
  EXPECT_EQ(count_of(page, "<tr class=\"impossible\">"), 2u);
  EXPECT_TRUE(testing::contains_all(
      page, {"impossible: speedup 8.20× above the ideal 8× (95 % CI 8.05×–8.31×)",
             "likely cause: the baseline ran slower than this point&#39;s workers could",
             "impossible: CPU use 2.07 cores above the 2 usable; likely cause: a measurement "
             "window",
             "2 disturbed, left out", "6 disturbed, 3 used (no undisturbed trial)"}));
  // Circled on io's speedup and efficiency charts, each with its legend key; the wall time
  // is no impossible figure, nor is CPU use drawn.
  EXPECT_EQ(count_of(page, "<title>impossible</title>"), 2u);
  EXPECT_EQ(count_of(page, ">impossible figure</text>"), 2u);
  EXPECT_TRUE(well_formed(page));

  AnalysedRun possible = report_fixture();
  for (SummaryRow& row : possible.analysis.rows) row.impossible.clear();
  const std::string page_possible = render_html(possible);
  EXPECT_EQ(count_of(page_possible, "class=\"impossible\""), 0u);
  EXPECT_EQ(count_of(page_possible, "impossible: "), 0u);
}

TEST(Html, EscapesNames) {
  AnalysedRun input = report_fixture();
  for (SummaryRow& row : input.analysis.rows) {
    if (row.workload == "io") row.workload = "<&>";
  }
  for (WorkloadProfile& profile : input.analysis.workloads) {
    if (profile.workload == "io") profile.workload = "<&>";
  }
  input.analysis.conclusions.push_back({"<&>", "x < y & \"z\""});
  const std::string page = render_html(input);
  EXPECT_EQ(page.find("<&>"), std::string::npos);
  EXPECT_TRUE(testing::contains_all(
      page, {"<h2>&lt;&amp;&gt; (wait-bound)</h2>", ">&lt;&amp;&gt;: speedup</text>",
             "<strong>&lt;&amp;&gt;</strong>: x &lt; y &amp; &quot;z&quot;"}));
  EXPECT_TRUE(well_formed(page));
}

TEST(Html, InterruptedAndEmptyRuns) {
  AnalysedRun input = report_fixture();
  input.interrupted = true;
  input.recorded_trials = 40;
  EXPECT_NE(render_html(input).find("Interrupted: 40 of 60 planned trials recorded."),
            std::string::npos);

  const std::string empty = render_html(AnalysedRun{});
  EXPECT_TRUE(well_formed(empty));
  EXPECT_EQ(count_of(empty, "<svg"), 0u);
  EXPECT_NE(empty.find("No trials on record."), std::string::npos);
}

TEST(Html, SameInputSameBytes) {
  EXPECT_EQ(render_html(report_fixture()), render_html(report_fixture()));
}

}  // namespace
}  // namespace scalelab
