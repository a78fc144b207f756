// report.html: one self-contained page with the content of report.md and three charts per
// workload (wall time, speedup, efficiency against workers; impossible points circled red).
//
// Self-contained means the page works from a USB stick on a plane: inline <style>, inline
// <svg>, no scripts, no fonts, and no "http://" or "https://" anywhere in it. The cell texts
// and number formats come from report/cells.hpp, shared with markdown.cpp; a change to a
// column there belongs here too.

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "report/cells.hpp"
#include "report/text.hpp"
#include "scalelab/parse.hpp"
#include "scalelab/report.hpp"

namespace scalelab {
namespace {

// The shared cell texts (report/cells.hpp) and escaping (report/text.hpp).
using namespace detail;

constexpr const char* style =
    R"(body{font-family:sans-serif;color:#222;max-width:1180px;margin:1.5em auto;padding:0 1em;line-height:1.4}
h1{font-size:1.7em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em;display:block;overflow-x:auto}
th,td{border:1px solid #ccc;padding:.25em .55em;text-align:right;white-space:nowrap}
th{background:#f2f2f2}td.text,th.text{text-align:left;white-space:normal}
tr.noisy td{background:#fff6e0}tr.failed td{background:#fde8e8}
tr.impossible td{background:#fbdada}tr.impossible td.text{font-weight:bold}
.interrupted{background:#fde8e8;border:1px solid #d55e00;padding:.5em .8em}
.warnings li{color:#8a4b00}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:8px}
.charts svg{width:100%;height:auto;border:1px solid #eee}
)";

// One table row; the first and last cells are text (left-aligned), the rest figures.
std::string row_html(const std::vector<std::string>& cells, const char* tag,
                     const std::string& row_class = "") {
  std::string out = row_class.empty() ? "<tr>" : fmt::format("<tr class=\"{}\">", row_class);
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const bool text = i == 0 || i + 1 == cells.size();
    out +=
        fmt::format("<{0}{1}>{2}</{0}>", tag, text ? " class=\"text\"" : "", xml_escape(cells[i]));
  }
  return out + "</tr>\n";
}

void list_item(std::string& out, const char* label, const std::string& value) {
  out += fmt::format("<li>{}: {}</li>\n", label, xml_escape(value));
}

void run_section(std::string& out, const AnalysedRun& input) {
  const nlohmann::json& spec = input.spec;
  out += "<h2>Run</h2>\n";
  if (input.interrupted) {
    out += fmt::format(
        "<p class=\"interrupted\"><strong>Interrupted: {} of {} planned trials recorded.</strong> "
        "The figures below use the trials on record.</p>\n",
        input.recorded_trials, input.planned_trials);
  }
  out += "<ul>\n";
  list_item(out, "Workloads", field_text(spec, "workloads"));
  list_item(out, "Models", field_text(spec, "models"));
  list_item(out, "Workers", field_text(spec, "workers"));
  list_item(out, "Tasks per trial", field_text(spec, "tasks"));
  const nlohmann::json& warmup = field(spec, "warmup");
  list_item(out, "Repeats",
            fmt::format("{} counted trials per point{}", field_text(spec, "repeat"),
                        warmup.is_boolean()
                            ? (warmup.get<bool>() ? ", after one warm-up" : ", no warm-up")
                            : ""));
  list_item(out, "Seed", field_text(spec, "seed"));
  list_item(out, "Task sizes", task_sizes(spec));
  for (const auto& [label, value] : model_settings(spec)) list_item(out, label.c_str(), value);
  if (input.planned_trials > 0 || input.recorded_trials > 0) {
    list_item(
        out, "Trials",
        fmt::format("{} of {} planned on record", input.recorded_trials, input.planned_trials));
  }
  list_item(out, "Usable cores assumed by the analysis", fmt::format("{}", input.analysis.cores));
  out += "</ul>\n";
}

void environment_section(std::string& out, const nlohmann::json& env) {
  out += "<h2>Environment</h2>\n<ul>\n";
  list_item(out, "CPU", field_text(env, "cpu_model"));
  list_item(out, "Cores",
            fmt::format("{} logical, {} physical, {} usable", field_text(env, "logical_cores"),
                        field_text(env, "physical_cores"), field_text(env, "usable_cores")));
  list_item(out, "Governor", field_text(env, "governor"));
  list_item(out, "Load average (1 min)", field_text(env, "load_avg_1m"));
  list_item(out, "Kernel", field_text(env, "kernel"));
  list_item(out, "Compiler", field_text(env, "compiler"));
  list_item(out, "Build type", field_text(env, "build_type"));
  if (const std::string runtimes = runtimes_text(env); !runtimes.empty()) {
    list_item(out, "Embedded runtimes", runtimes);
  }
  list_item(out, "scalelab version", field_text(env, "scalelab_version"));
  out += "</ul>\n";
}

// The charts' unit for wall times: the largest median decides, so the axis reads "250" (ms)
// rather than "0.25" (s) or "250000" (us).
struct TimeUnit {
  double per_second;
  const char* name;
};

TimeUnit time_unit(const std::vector<const SummaryRow*>& rows) {
  double largest = 0;
  for (const SummaryRow* row : rows) {
    if (row->trials > 0 && std::isfinite(row->wall.median)) {
      largest = std::max(largest, row->wall.median);
    }
  }
  if (largest >= 1) return {1, "s"};
  if (largest >= 1e-3) return {1e3, "ms"};
  return {1e6, "us"};
}

// A chart against workers on a log2 axis, as all three of a workload's charts are.
Chart chart(std::string title, std::string y_label) {
  Chart c;
  c.title = std::move(title);
  c.x_label = "workers (log scale)";
  c.y_label = std::move(y_label);
  return c;
}

// The three charts of one workload. Models other than serial are curves; serial runs at one
// worker only, so as a curve it would be a lone dot. On the wall-time chart it is a dashed
// horizontal "serial" line across the workers axis instead, the level every model should drop
// below; the speedup and efficiency charts leave it out, since there it is 1× and 100 % by
// definition.
std::string workload_charts(const std::string& workload,
                            const std::vector<const SummaryRow*>& rows) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const TimeUnit unit = time_unit(rows);
  Chart wall =
      chart(workload + ": median wall time", fmt::format("median wall time ({})", unit.name));
  Chart speedup = chart(workload + ": speedup", "speedup (×)");
  Chart efficiency = chart(workload + ": efficiency", "efficiency (%)");

  std::vector<std::string> models;
  std::vector<int> workers;
  const SummaryRow* serial = nullptr;
  for (const SummaryRow* row : rows) {
    if (std::find(workers.begin(), workers.end(), row->workers) == workers.end()) {
      workers.push_back(row->workers);
    }
    if (row->model == "serial") {
      if (serial == nullptr && row->trials > 0) serial = row;
      continue;
    }
    if (std::find(models.begin(), models.end(), row->model) == models.end()) {
      models.push_back(row->model);
    }
  }
  std::sort(workers.begin(), workers.end());

  for (const std::string& model : models) {
    ChartSeries w, s, e;
    w.name = s.name = e.name = model;
    for (const SummaryRow* row : rows) {
      if (row->model != model) continue;
      // A point whose trials all failed has no figures: NaN, which render_svg leaves out.
      const bool ok = row->trials > 0;
      for (ChartSeries* series : {&w, &s, &e}) {
        series->x.push_back(row->workers);
        series->marked.push_back(row->noisy);
      }
      // The wall time itself is never impossible; the speedup and efficiency drawn from it
      // can be.
      w.impossible.push_back(false);
      s.impossible.push_back(speed_impossible(*row));
      e.impossible.push_back(speed_impossible(*row));
      w.y.push_back(ok ? row->wall.median * unit.per_second : nan);
      s.y.push_back(ok && row->speedup ? *row->speedup : nan);
      e.y.push_back(ok && row->efficiency ? *row->efficiency * 100 : nan);
    }
    wall.series.push_back(std::move(w));
    speedup.series.push_back(std::move(s));
    efficiency.series.push_back(std::move(e));
  }
  if (serial != nullptr && !workers.empty()) {
    const double level = serial->wall.median * unit.per_second;
    ChartSeries line;
    line.name = "serial";
    line.x = {double(workers.front()), double(workers.back())};
    line.y = {level, level};
    line.dashed = true;
    wall.series.push_back(std::move(line));
  }
  // The ideal speedup at each worker count, as the analysis set it on that count's rows.
  ChartSeries ideal;
  ideal.name = "ideal";
  ideal.dashed = true;
  for (const int w : workers) {
    const auto row = std::find_if(rows.begin(), rows.end(), [&](const SummaryRow* r) {
      return r->workers == w && r->model != "serial";
    });
    if (row == rows.end()) continue;
    ideal.x.push_back(w);
    ideal.y.push_back((*row)->ideal);
  }
  if (!ideal.x.empty()) speedup.series.push_back(std::move(ideal));

  return "<div class=\"charts\">\n" + render_svg(wall) + render_svg(speedup) +
         render_svg(efficiency) + "</div>\n";
}

void workload_section(std::string& out, const Analysis& analysis, const std::string& workload) {
  const auto profile =
      std::find_if(analysis.workloads.begin(), analysis.workloads.end(),
                   [&](const WorkloadProfile& p) { return p.workload == workload; });
  std::vector<const SummaryRow*> rows;
  for (const SummaryRow& row : analysis.rows) {
    if (row.workload == workload) rows.push_back(&row);
  }
  if (profile != analysis.workloads.end()) {
    out += fmt::format("<h2>{} ({})</h2>\n", xml_escape(workload), to_string(profile->bound));
    out += fmt::format("<p>{}</p>\n", xml_escape(profile_line(*profile)));
  } else {
    out += fmt::format("<h2>{}</h2>\n", xml_escape(workload));
  }
  out += workload_charts(workload, rows);

  out += "<table>\n";
  out += row_html({"model", "workers", "median", "95 % CI", "CV", "p90", "speedup (95 % CI)",
                   "efficiency", "ideal", "CPU util", "note"},
                  "th");
  for (const SummaryRow* row : rows) {
    const std::string row_class = row->trials == 0       ? "failed"
                                  : row->is_impossible() ? "impossible"
                                  : row->noisy           ? "noisy"
                                                         : "";
    if (row->trials == 0) {
      out += row_html({row->model, fmt::format("{}", row->workers), dash, dash, dash, dash, dash,
                       dash, times(row->ideal), dash, note(*row)},
                      "td", row_class);
      continue;
    }
    std::string speedup_text = dash;
    if (row->speedup) {
      speedup_text = times(*row->speedup);
      if (row->speedup_ci) {
        speedup_text +=
            fmt::format(" [{}, {}]", times(row->speedup_ci->low), times(row->speedup_ci->high));
      }
    }
    out += row_html({row->model, fmt::format("{}", row->workers), format_duration(row->wall.median),
                     fmt::format("[{}, {}]", format_duration(row->wall_ci.low),
                                 format_duration(row->wall_ci.high)),
                     fmt::format("{:.1f} %", row->wall.cv * 100), format_duration(row->wall.p90),
                     speedup_text, row->efficiency ? percent(*row->efficiency) : dash,
                     times(row->ideal), fmt::format("{:.2f}", row->cpu_util), note(*row)},
                    "td", row_class);
  }
  out += "</table>\n";

  bool any_fit = false;
  for (const ScalingFit& fit : analysis.fits) {
    if (fit.workload != workload) continue;
    if (!any_fit) {
      out += "<h3>Fits</h3>\n<table>\n";
      out += row_html({"model", "points", "Amdahl serial fraction", "Amdahl R²", "USL σ", "USL κ",
                       "USL peak W*", "USL R²", "note"},
                      "th");
      any_fit = true;
    }
    if (!fit.fitted()) {
      out += row_html({fit.model, fmt::format("{}", fit.points), dash, dash, dash, dash, dash, dash,
                       "not fitted: " + fit.refused},
                      "td");
      continue;
    }
    out += row_html(
        {fit.model, fmt::format("{}", fit.points),
         fmt::format("{:.4f}", fit.amdahl_serial_fraction), fmt::format("{:.3f}", fit.amdahl_r2),
         fmt::format("{:.3g}", fit.usl_sigma), fmt::format("{:.3g}", fit.usl_kappa),
         fit.usl_peak_workers ? fmt::format("{:.1f}", *fit.usl_peak_workers) : dash,
         fmt::format("{:.3f}", fit.usl_r2), ""},
        "td");
  }
  if (any_fit) out += "</table>\n";
}

}  // namespace

std::string render_html(const AnalysedRun& input) {
  std::string out =
      "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>scalelab report</title>\n<style>\n";
  out += style;
  out += "</style>\n</head>\n<body>\n<h1>scalelab report</h1>\n";
  run_section(out, input);
  environment_section(out, input.environment);
  if (!input.warnings.empty()) {
    out += "<h2>Warnings</h2>\n<ul class=\"warnings\">\n";
    for (const auto& warning : input.warnings)
      out += fmt::format("<li>{}</li>\n", xml_escape(warning));
    out += "</ul>\n";
  }
  const std::vector<std::string> workloads = workload_order(input.analysis);
  if (workloads.empty()) out += "<p>No trials on record.</p>\n";
  for (const auto& workload : workloads) workload_section(out, input.analysis, workload);

  out += "<h2>Conclusions</h2>\n<ul>\n";
  if (input.analysis.conclusions.empty()) {
    out += "<li>None: too few points to say anything.</li>\n";
  }
  for (const Conclusion& conclusion : input.analysis.conclusions) {
    if (conclusion.workload.empty()) {
      out += fmt::format("<li>{}</li>\n", xml_escape(conclusion.text));
    } else {
      out += fmt::format("<li><strong>{}</strong>: {}</li>\n", xml_escape(conclusion.workload),
                         xml_escape(conclusion.text));
    }
  }
  out += "</ul>\n</body>\n</html>\n";
  return out;
}

}  // namespace scalelab
