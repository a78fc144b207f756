// A granularity sweep's report, as a Document (document.hpp) in both dialects, and its
// results.json: the run, the environment, efficiency and speedup against task size, one row
// per size, and the verdict.

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "report/cells.hpp"
#include "report/document.hpp"
#include "scalelab/parse.hpp"

namespace scalelab {
namespace detail {
namespace {

void run_section(Document& doc, const AnalysedGranularity& input) {
  const nlohmann::json& spec = input.spec;
  const GranularityResult& r = input.result;
  doc.blocks.emplace_back(Heading{2, "Run"});
  if (input.interrupted) {
    doc.blocks.emplace_back(interrupted_paragraph(input));
  }
  List list;
  list.items.push_back(item("Model", r.model));
  list.items.push_back(item("Workload", r.workload));
  list.items.push_back(item("Workers", fmt::format("{}", r.workers)));
  std::string sizes;
  for (const auto& size : field(spec, "sizes_s")) {
    if (size.is_number())
      sizes += (sizes.empty() ? "" : ", ") + format_duration(size.get<double>());
  }
  list.items.push_back(item("Task sizes", sizes.empty() ? "unknown" : sizes));
  const nlohmann::json& warmup = field(spec, "warmup");
  list.items.push_back(item(
      "Repeats",
      fmt::format("{} counted serial and parallel trials per size{}", field_text(spec, "repeat"),
                  warmup.is_boolean() && warmup.get<bool>() ? ", after one warm-up each" : "")));
  if (const auto& batch = field(spec, "min_batch_s"); batch.is_number()) {
    list.items.push_back(item("Shortest serial batch", format_duration(batch.get<double>())));
  }
  list.items.push_back(item("Efficiency threshold", percent(r.threshold)));
  const nlohmann::json& speed = field(r.calibration, "iters_per_s");
  if (speed.is_number()) {
    const nlohmann::json& measured = field(r.calibration, "measured_s");
    list.items.push_back(item(
        "Loop speed",
        fmt::format("{:.0f} iterations/s{}", speed.get<double>(),
                    measured.is_number() && measured.get<double>() > 0
                        ? fmt::format(", calibrated in {}", format_duration(measured.get<double>()))
                        : ", as given")));
  }
  list.items.push_back(item("Seed", field_text(spec, "seed")));
  // The model's own settings, read as a run's spec would be: its parameters, its models.
  nlohmann::json as_run =
      field(spec, "params").is_object() ? field(spec, "params") : nlohmann::json::object();
  as_run["models"] = {"serial", r.model};
  for (const auto& [label, value] : model_settings(as_run))
    list.items.push_back(item(label, value));
  list.items.push_back(item("Trials", fmt::format("{} of {} planned on record",
                                                  input.recorded_trials, input.planned_trials)));
  list.items.push_back(item("Usable cores", fmt::format("{}", r.cores)));
  doc.blocks.emplace_back(std::move(list));
}

Chart size_chart(std::string title, std::string y_label) {
  return log_chart(std::move(title), "task size (us, log scale)", std::move(y_label));
}

// Efficiency and speedup against task size, with the threshold and the ideal as dashed lines.
Charts size_charts(const GranularityResult& r) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Chart efficiency =
      size_chart(fmt::format("{}: efficiency by task size", r.model), "efficiency (%)");
  Chart speedup = size_chart(fmt::format("{}: speedup by task size", r.model), "speedup (×)");
  ChartSeries e, s;
  e.name = s.name = fmt::format("{} at {} workers", r.model, r.workers);
  for (auto it = r.points.rbegin(); it != r.points.rend(); ++it) {  // x ascending
    const double x = it->task_s * 1e6;
    e.x.push_back(x);
    s.x.push_back(x);
    e.y.push_back(it->failed() ? nan : it->efficiency * 100);
    s.y.push_back(it->failed() ? nan : it->speedup);
    e.marked.push_back(false);
    s.marked.push_back(false);
  }
  efficiency.series.push_back(std::move(e));
  speedup.series.push_back(std::move(s));
  if (!r.points.empty()) {
    const double low = r.points.back().task_s * 1e6, high = r.points.front().task_s * 1e6;
    ChartSeries threshold, ideal;
    threshold.name = fmt::format("threshold {}", percent(r.threshold));
    ideal.name = "ideal";
    threshold.dashed = ideal.dashed = true;
    threshold.x = ideal.x = {low, high};
    threshold.y = {r.threshold * 100, r.threshold * 100};
    ideal.y = {double(r.workers), double(r.workers)};
    efficiency.series.push_back(std::move(threshold));
    speedup.series.push_back(std::move(ideal));
  }
  return {{std::move(efficiency), std::move(speedup)}};
}

TableRow point_row(const GranularityPoint& p, double threshold) {
  const std::string size = format_duration(p.task_s);
  const std::string tasks = fmt::format("{}", p.tasks), iters = fmt::format("{}", p.iters);
  if (p.failed()) {
    return {{size, tasks, iters, dash, dash, dash, dash, dash, "failed: " + p.error}, "failed"};
  }
  return {{size, tasks, iters, format_duration(p.serial.median), format_duration(p.parallel.median),
           times(p.speedup), percent(p.efficiency),
           fmt::format("[{}, {}]", percent(p.efficiency_ci.low), percent(p.efficiency_ci.high)),
           p.efficiency >= threshold ? "" : "below the threshold"},
          ""};
}

Document granularity_document(const AnalysedGranularity& input) {
  const GranularityResult& r = input.result;
  Document doc{"scalelab granularity report", {}};
  run_section(doc, input);
  environment_section(doc, input.environment);
  warnings_section(doc, input.warnings);
  doc.blocks.emplace_back(
      Heading{2, fmt::format("{} at {} workers on {}", r.model, r.workers, r.workload)});
  if (r.points.empty()) {
    doc.blocks.emplace_back(Paragraph{"No trials on record.", "", ""});
  } else {
    doc.blocks.emplace_back(size_charts(r));
    Table table{{"task", "tasks", "iterations", "serial", r.model, "speedup", "efficiency",
                 "95 % CI", "note"},
                {}};
    for (const auto& p : r.points) table.rows.push_back(point_row(p, r.threshold));
    doc.blocks.emplace_back(std::move(table));
  }
  doc.blocks.emplace_back(Heading{2, "Verdict"});
  doc.blocks.emplace_back(Paragraph{granularity_verdict(r), "", ""});
  return doc;
}

}  // namespace
}  // namespace detail

std::string render_markdown(const AnalysedGranularity& input) {
  return detail::to_markdown(detail::granularity_document(input));
}

std::string render_html(const AnalysedGranularity& input) {
  return detail::to_html(detail::granularity_document(input));
}

nlohmann::json results_json(const RecordedRun& run, const AnalysedGranularity& input) {
  nlohmann::json all = to_json(input.result);
  all["kind"] = "granularity";
  all["environment"] = input.environment;
  all["spec"] = input.spec;
  all["interrupted"] = input.interrupted;
  all["planned_trials"] = input.planned_trials;
  all["warnings"] = input.warnings;
  all["verdict"] = granularity_verdict(input.result);
  all["trials"] = nlohmann::json::array();
  for (const auto& t : run.trials) all["trials"].push_back(to_json(t));
  return all;
}

void write_reports(const std::filesystem::path& dir, const AnalysedGranularity& input) {
  write_file_atomically(dir / "report.md", render_markdown(input));
  write_file_atomically(dir / "report.html", render_html(input));
}

}  // namespace scalelab
