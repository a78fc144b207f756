#pragma once
/// \file report.hpp
/// Reporters: format results computed elsewhere (analysis.hpp); they never compute figures
/// themselves. The same input always gives the same text, byte for byte.

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scalelab/analysis.hpp"
#include "scalelab/granularity.hpp"
#include "scalelab/records.hpp"

namespace scalelab {

/// Prints one table per workload: model, workers, median wall, CV, speedup, efficiency, CPU
/// utilisation, marks on impossible (with the likely cause), noisy and disturbed points, and a
/// line for failed trials.
void print_console_tables(std::ostream& out, const std::vector<SummaryRow>& rows);

/// report.md: environment, warnings, one table per workload (median with CI, CV, p90,
/// speedup with CI, efficiency, ideal, impossible, noisy and disturbed marks), fits,
/// conclusions.
std::string render_markdown(const AnalysedRun& input);

/// report.html: one self-contained page (no network, no external scripts or styles) with the
/// same content as report.md and inline SVG charts per workload.
std::string render_html(const AnalysedRun& input);

/// One series of a line chart.
struct ChartSeries {
  std::string name;          ///< legend text, e.g. "threads"
  std::vector<double> x, y;  ///< points, x ascending
  std::vector<bool> marked;  ///< per point: drawn as a hollow "noisy" marker when true
  bool dashed = false;       ///< e.g. the ideal line
  /// Per point: circled in red as an impossible figure when true (missing entries: false).
  std::vector<bool> impossible;
};

/// A line chart; x may be drawn on a log2 scale.
struct Chart {
  std::string title, x_label, y_label;
  bool log_x = true;
  bool y_from_zero = true;
  std::vector<ChartSeries> series;
};

/// The chart as an inline <svg> element: axes with ticks and labels, a legend, one polyline
/// and markers per series. Text is XML-escaped.
std::string render_svg(const Chart& chart);

/// The comparison of two runs as a console/Markdown table with verdicts.
void print_comparison(std::ostream& out, const std::vector<ComparisonRow>& rows,
                      const std::string& name_a, const std::string& name_b);

/// results.json: environment, spec, calibration, every trial, workload profiles, summary rows,
/// fits, conclusions, warnings, and whether the run was interrupted.
nlohmann::json results_json(const RecordedRun& run, const AnalysedRun& input);

/// Writes report.md and report.html into `dir` (each atomically).
void write_reports(const std::filesystem::path& dir, const AnalysedRun& input);

/// A granularity sweep's report.md and report.html: its settings, the environment, charts of
/// efficiency and speedup against task size, one row per size, and the verdict.
std::string render_markdown(const AnalysedGranularity& input);
std::string render_html(const AnalysedGranularity& input);

/// A granularity sweep's results.json: to_json(GranularityResult), with kind, environment,
/// spec, interrupted, planned_trials, warnings, the verdict and every trial.
nlohmann::json results_json(const RecordedRun& run, const AnalysedGranularity& input);

/// Writes a granularity sweep's report.md and report.html into `dir` (each atomically).
void write_reports(const std::filesystem::path& dir, const AnalysedGranularity& input);

}  // namespace scalelab
