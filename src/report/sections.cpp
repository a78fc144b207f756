// What a run's report says, section by section, as a Document (document.hpp): the run, its
// environment, warnings, one section per workload (profile, charts, table, fits), and the
// conclusions. Every figure comes from the analysis; this file only picks a format for each.
// Number formats are fixed (explicit fmt precision, never the locale), so the same input gives
// the same bytes in both dialects.

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "report/cells.hpp"
#include "report/document.hpp"
#include "scalelab/parse.hpp"

namespace scalelab::detail {
namespace {

void run_section(Document& doc, const AnalysedRun& input) {
  const nlohmann::json& spec = input.spec;
  doc.blocks.emplace_back(Heading{2, "Run"});
  if (input.interrupted) {
    doc.blocks.emplace_back(interrupted_paragraph(input));
  }
  List list;
  list.items.push_back(item("Workloads", field_text(spec, "workloads")));
  list.items.push_back(item("Models", field_text(spec, "models")));
  list.items.push_back(item("Workers", field_text(spec, "workers")));
  list.items.push_back(item("Tasks per trial", field_text(spec, "tasks")));
  const nlohmann::json& warmup = field(spec, "warmup");
  list.items.push_back(item(
      "Repeats", fmt::format("{} counted trials per point{}", field_text(spec, "repeat"),
                             warmup.is_boolean()
                                 ? (warmup.get<bool>() ? ", after one warm-up" : ", no warm-up")
                                 : "")));
  list.items.push_back(item("Seed", field_text(spec, "seed")));
  list.items.push_back(item("Task sizes", task_sizes(spec)));
  for (const auto& [label, value] : model_settings(spec)) list.items.push_back(item(label, value));
  if (input.planned_trials > 0 || input.recorded_trials > 0) {
    list.items.push_back(item("Trials", fmt::format("{} of {} planned on record",
                                                    input.recorded_trials, input.planned_trials)));
  }
  list.items.push_back(
      item("Usable cores assumed by the analysis", fmt::format("{}", input.analysis.cores)));
  doc.blocks.emplace_back(std::move(list));
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
  return log_chart(std::move(title), "workers (log scale)", std::move(y_label));
}

// One model's curves on the wall-time, speedup and efficiency charts. A point whose trials
// all failed has no figures: NaN, which render_svg leaves out. The wall time itself is never
// impossible; the speedup and efficiency drawn from it can be.
void add_model_curves(const std::string& model, const std::vector<const SummaryRow*>& rows,
                      const TimeUnit& unit, Chart& wall, Chart& speedup, Chart& efficiency) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  ChartSeries w, s, e;
  w.name = s.name = e.name = model;
  for (const SummaryRow* row : rows) {
    if (row->model != model) continue;
    const bool ok = row->trials > 0;
    for (ChartSeries* series : {&w, &s, &e}) {
      series->x.push_back(row->workers);
      series->marked.push_back(row->noisy);
    }
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

// Whether any series of `chart` has a value to draw.
bool has_data(const Chart& chart) {
  return std::any_of(chart.series.begin(), chart.series.end(), [](const ChartSeries& series) {
    return std::any_of(series.y.begin(), series.y.end(), [](double y) { return std::isfinite(y); });
  });
}

// The three charts of one workload. Models other than serial are curves; serial runs at one
// worker only, so as a curve it would be a lone dot. On the wall-time chart it is a dashed
// horizontal "serial" line across the workers axis instead, the level every model should drop
// below; the speedup and efficiency charts leave it out, since there it is 1× and 100 % by
// definition.
Charts workload_charts(const std::string& workload, const std::vector<const SummaryRow*>& rows) {
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
    } else if (std::find(models.begin(), models.end(), row->model) == models.end()) {
      models.push_back(row->model);
    }
  }
  std::sort(workers.begin(), workers.end());
  for (const std::string& model : models) {
    add_model_curves(model, rows, unit, wall, speedup, efficiency);
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
  Charts charts;
  // One worker count (--workers tasks at one point) draws no curve: the table says it all. And
  // without a baseline there is no speedup or efficiency to draw.
  if (workers.size() < 2) return charts;
  const bool drawn = has_data(speedup);
  if (!ideal.x.empty()) speedup.series.push_back(std::move(ideal));
  charts.charts.push_back(std::move(wall));
  if (drawn) {
    charts.charts.push_back(std::move(speedup));
    charts.charts.push_back(std::move(efficiency));
  }
  return charts;
}

TableRow summary_row(const SummaryRow& row) {
  const std::string css = row.trials == 0       ? "failed"
                          : row.is_impossible() ? "impossible"
                          : row.noisy           ? "noisy"
                                                : "";
  if (row.trials == 0) {
    return {{row.model, fmt::format("{}", row.workers), dash, dash, dash, dash, dash, dash,
             times(row.ideal), dash, note(row)},
            css};
  }
  std::string speedup = dash;
  if (row.speedup) {
    speedup = times(*row.speedup);
    if (row.speedup_ci) {
      speedup += fmt::format(" [{}, {}]", times(row.speedup_ci->low), times(row.speedup_ci->high));
    }
  }
  return {
      {row.model, fmt::format("{}", row.workers), format_duration(row.wall.median),
       fmt::format("[{}, {}]", format_duration(row.wall_ci.low), format_duration(row.wall_ci.high)),
       fmt::format("{:.1f} %", row.wall.cv * 100), format_duration(row.wall.p90), speedup,
       row.efficiency ? percent(*row.efficiency) : dash, times(row.ideal),
       fmt::format("{:.2f}", row.cpu_util), note(row)},
      css};
}

TableRow fit_row(const ScalingFit& fit) {
  if (!fit.fitted()) {
    return {{fit.model, fmt::format("{}", fit.points), dash, dash, dash, dash, dash, dash,
             "not fitted: " + fit.refused},
            ""};
  }
  return {{fit.model, fmt::format("{}", fit.points),
           fmt::format("{:.4f}", fit.amdahl_serial_fraction), fmt::format("{:.3f}", fit.amdahl_r2),
           fmt::format("{:.3g}", fit.usl_sigma), fmt::format("{:.3g}", fit.usl_kappa),
           fit.usl_peak_workers ? fmt::format("{:.1f}", *fit.usl_peak_workers) : dash,
           fmt::format("{:.3f}", fit.usl_r2), ""},
          ""};
}

// Each point's tail latencies, from every task of its trials in the figures: how long a task
// took (p50, p99, p99.9, max) and how long it waited for its start after a worker was free for
// it. A point without tasks on record (every trial failed) has no line.
void tail_latency_section(Document& doc, const std::vector<const SummaryRow*>& rows) {
  Table table{{"model", "workers", "task p50", "task p99", "task p99.9", "task max",
               "start delay p50", "start delay p99", "start delay max", "tasks"},
              {}};
  for (const SummaryRow* row : rows) {
    const LatencyHistogram& d = row->task_duration;
    const LatencyHistogram& s = row->start_delay;
    if (d.count() == 0) continue;
    table.rows.push_back(
        {{row->model, fmt::format("{}", row->workers), format_duration(d.quantile_s(0.5)),
          format_duration(d.quantile_s(0.99)), format_duration(d.quantile_s(0.999)),
          format_duration(d.max_s()), format_duration(s.quantile_s(0.5)),
          format_duration(s.quantile_s(0.99)), format_duration(s.max_s()),
          fmt::format("{} ({} × {})", d.count(), row->tasks, row->trials)},
         ""});
  }
  if (table.rows.empty()) return;
  doc.blocks.emplace_back(Heading{3, "Tail latencies"});
  doc.blocks.emplace_back(std::move(table));
}

void workload_section(Document& doc, const Analysis& analysis, const Case& c) {
  const auto profile = std::find_if(analysis.workloads.begin(), analysis.workloads.end(),
                                    [&](const WorkloadProfile& p) {
                                      return Case{p.workload, p.point} == c;
                                    });
  std::vector<const SummaryRow*> rows;
  for (const SummaryRow& row : analysis.rows) {
    if (Case{row.workload, row.point} == c) rows.push_back(&row);
  }
  if (profile != analysis.workloads.end()) {
    doc.blocks.emplace_back(
        Heading{2, fmt::format("{} ({})", c.title(), to_string(profile->bound))});
    doc.blocks.emplace_back(Paragraph{profile_line(*profile), "", ""});
  } else {
    doc.blocks.emplace_back(Heading{2, c.title()});
  }
  if (Charts charts = workload_charts(c.title(), rows); !charts.charts.empty()) {
    doc.blocks.emplace_back(std::move(charts));
  }
  Table table{{"model", "workers", "median", "95 % CI", "CV", "p90", "speedup (95 % CI)",
               "efficiency", "ideal", "CPU util", "note"},
              {}};
  for (const SummaryRow* row : rows) table.rows.push_back(summary_row(*row));
  doc.blocks.emplace_back(std::move(table));
  tail_latency_section(doc, rows);

  Table fits{{"model", "points", "Amdahl serial fraction", "Amdahl R²", "USL σ", "USL κ",
              "USL peak W*", "USL R²", "note"},
             {}};
  for (const ScalingFit& fit : analysis.fits) {
    if (Case{fit.workload, fit.point} == c) fits.rows.push_back(fit_row(fit));
  }
  if (fits.rows.empty()) return;
  doc.blocks.emplace_back(Heading{3, "Fits"});
  doc.blocks.emplace_back(std::move(fits));
}

// A scanned value as a number on a chart's x axis: a count, a fraction, a duration in
// seconds, CPU work as its duration or iterations; NaN for a name (a start method).
double axis_number(const nlohmann::json& value) {
  if (value.is_number()) return value.get<double>();
  if (value.is_object()) {
    for (const char* key : {"duration_s", "iters"}) {
      if (value.contains(key) && value[key].is_number()) return value[key].get<double>();
    }
  }
  return std::numeric_limits<double>::quiet_NaN();
}

// The workload's rows of one model along `line` (points in axis order): at the largest worker
// count the model ran at every point, or else at each point its largest ("most workers").
std::vector<const SummaryRow*> along(const Analysis& analysis, const std::string& workload,
                                     const std::string& model,
                                     const std::vector<nlohmann::json>& line, bool& fixed) {
  int common = 0;
  for (const auto& r : analysis.rows) {
    if (r.workload != workload || r.model != model || r.point != line.front()) continue;
    if (std::all_of(line.begin(), line.end(), [&](const auto& p) {
          return analysis.find(workload, p, model, r.workers) != nullptr;
        })) {
      common = std::max(common, r.workers);
    }
  }
  fixed = common > 0;
  std::vector<const SummaryRow*> rows;
  for (const auto& p : line) {
    const SummaryRow* best = fixed ? analysis.find(workload, p, model, common) : nullptr;
    if (!fixed) {
      for (const auto& r : analysis.rows) {
        if (r.workload == workload && r.model == model && r.point == p && r.trials > 0 &&
            (!best || r.workers > best->workers)) {
          best = &r;
        }
      }
    }
    rows.push_back(best);
  }
  return rows;
}

// One model's curves against the scanned parameter on the wall-time and speedup charts.
void add_scan_curves(const Analysis& analysis, const ScanLine& line, const std::string& model,
                     const TimeUnit& unit, Chart& wall, Chart& speedup) {
  bool fixed_workers = false;
  const auto rows = along(analysis, line.workload, model, line.points, fixed_workers);
  ChartSeries w, s;
  const SummaryRow* any = nullptr;
  for (std::size_t i = 0; i < line.points.size(); ++i) {
    if (!rows[i]) continue;
    any = rows[i];
    const double x = axis_number(line.points[i].at(line.key));
    w.x.push_back(x), s.x.push_back(x);
    w.y.push_back(rows[i]->wall.median * unit.per_second);
    s.y.push_back(rows[i]->speedup ? *rows[i]->speedup : std::numeric_limits<double>::quiet_NaN());
    w.marked.push_back(rows[i]->noisy), s.marked.push_back(rows[i]->noisy);
    s.impossible.push_back(speed_impossible(*rows[i]));
  }
  if (!any) return;
  w.name = s.name = fixed_workers ? fmt::format("{} (W={})", model, any->workers)
                                  : fmt::format("{} (most workers)", model);
  // serial is the reference the others are measured against: dashed, in grey, so that each
  // model has the same colour on the wall-time and speedup charts (which leaves serial out).
  w.dashed = model == "serial";
  wall.series.push_back(w);
  if (model != "serial") speedup.series.push_back(s);
}

// The charts of one line of the scan: per model, median wall time and speedup at each of the
// axis's values.
void scan_charts(Charts& charts, const Analysis& analysis, const ScanLine& line) {
  std::vector<const SummaryRow*> all;
  std::vector<std::string> models;
  for (const auto& r : analysis.rows) {
    if (r.workload != line.workload ||
        std::find(line.points.begin(), line.points.end(), r.point) == line.points.end()) {
      continue;
    }
    all.push_back(&r);
    if (std::find(models.begin(), models.end(), r.model) == models.end()) {
      models.push_back(r.model);
    }
  }
  if (models.empty()) return;
  const std::string name = point_text({{line.key, line.points.front().at(line.key)}});
  const std::string param = name.substr(0, name.find('='));
  const std::string title = Case{line.workload, line.fixed}.title();
  const TimeUnit unit = time_unit(all);
  bool positive = true;
  for (const auto& p : line.points) positive = positive && axis_number(p.at(line.key)) > 0;
  Chart wall = log_chart(fmt::format("{}: median wall time against {}", title, param),
                         fmt::format("{}{}", param, positive ? " (log scale)" : ""),
                         fmt::format("median wall time ({})", unit.name));
  Chart speedup =
      log_chart(fmt::format("{}: speedup against {}", title, param), wall.x_label, "speedup (×)");
  wall.log_x = speedup.log_x = positive;
  for (const auto& model : models) add_scan_curves(analysis, line, model, unit, wall, speedup);
  charts.charts.push_back(std::move(wall));
  if (has_data(speedup)) charts.charts.push_back(std::move(speedup));
}

// Before the per-point sections: for each workload, its charts against each scanned parameter
// whose values are numbers.
void scan_section(Document& doc, const Analysis& analysis, const std::vector<ScanAxis>& axes) {
  if (analysis.points.size() < 2) return;
  // Only axes whose values are numbers can be an x axis (not a start method).
  std::vector<ScanAxis> numeric;
  for (const auto& axis : axes) {
    if (std::none_of(axis.values.begin(), axis.values.end(),
                     [](const auto& v) { return std::isnan(axis_number(v)); })) {
      numeric.push_back(axis);
    }
  }
  Charts charts;
  for (const auto& line : scan_lines(analysis, numeric)) scan_charts(charts, analysis, line);
  if (charts.charts.empty()) return;
  doc.blocks.emplace_back(Heading{2, "Against the scanned parameters"});
  doc.blocks.emplace_back(Paragraph{
      "Each curve is one model at a fixed worker count (the largest it ran at every value), or "
      "at its largest worker count at each value when none is common (--workers tasks).",
      "", ""});
  doc.blocks.emplace_back(std::move(charts));
}

void conclusions_section(Document& doc, const std::vector<Conclusion>& conclusions) {
  doc.blocks.emplace_back(Heading{2, "Conclusions"});
  List list;
  if (conclusions.empty())
    list.items.push_back({"", "None: too few points to say anything.", false});
  for (const Conclusion& conclusion : conclusions) {
    list.items.push_back(
        {Case{conclusion.workload, conclusion.point}.title(), conclusion.text, true});
  }
  doc.blocks.emplace_back(std::move(list));
}

}  // namespace

void environment_section(Document& doc, const nlohmann::json& env) {
  doc.blocks.emplace_back(Heading{2, "Environment"});
  List list;
  list.items.push_back(item("CPU", field_text(env, "cpu_model")));
  list.items.push_back(item(
      "Cores", fmt::format("{} logical, {} physical, {} usable", field_text(env, "logical_cores"),
                           field_text(env, "physical_cores"), field_text(env, "usable_cores"))));
  list.items.push_back(item("Governor", field_text(env, "governor")));
  list.items.push_back(item("Load average (1 min)", field_text(env, "load_avg_1m")));
  list.items.push_back(item("Kernel", field_text(env, "kernel")));
  list.items.push_back(item("Compiler", field_text(env, "compiler")));
  list.items.push_back(item("Build type", field_text(env, "build_type")));
  if (const std::string runtimes = runtimes_text(env); !runtimes.empty()) {
    list.items.push_back(item("Embedded runtimes", runtimes));
  }
  list.items.push_back(item("scalelab version", field_text(env, "scalelab_version")));
  doc.blocks.emplace_back(std::move(list));
}

void warnings_section(Document& doc, const std::vector<std::string>& warnings) {
  if (warnings.empty()) return;
  doc.blocks.emplace_back(Heading{2, "Warnings"});
  List list{{}, "warnings"};
  for (const auto& warning : warnings) list.items.push_back({"", warning, false});
  doc.blocks.emplace_back(std::move(list));
}

// "1.96× at 2 (245ms)": a cell of the seed's table; serial's is its time.
std::string seed_cell(const SeedCell& cell) {
  if (!cell.ran) return "–";
  const std::string time = format_duration(cell.median_s);
  if (!cell.speedup)
    return cell.model == "serial" ? time : fmt::format("{} at {}", time, cell.workers);
  return fmt::format("{} at {} ({})", times(*cell.speedup), cell.workers, time);
}

// The seed's table: its models on its two tasks, C++ and Python side by side.
void seed_section(Document& doc, const Analysis& analysis) {
  if (!analysis.seed) return;
  doc.blocks.emplace_back(Heading{2, "The seed's experiment: C++ and Python side by side"});
  doc.blocks.emplace_back(Paragraph{
      "Each cell is the model's best speedup over serial on that workload (with more than one "
      "worker), the workers it took "
      "and the median wall time there; serial's is its time. C++ runs the cpu and io tasks "
      "under scalelab's own pools; Python runs the same tasks, written in Python, under "
      "Python's own executors (ThreadPoolExecutor, ProcessPoolExecutor, asyncio) in the "
      "embedded CPython.",
      "", ""});
  Table table;
  table.header.push_back("model");
  const auto column = [](const std::string& workload) {
    const bool python = workload.starts_with("python");
    const bool io = workload.ends_with("io");
    return fmt::format("{}, {} ({})", io ? "I/O-bound" : "CPU-bound", python ? "Python" : "C++",
                       workload);
  };
  for (const auto& workload : analysis.seed->workloads) table.header.push_back(column(workload));
  for (const auto& row : analysis.seed->rows) {
    TableRow cells{{row.label}, ""};
    for (const auto& cell : row.cells) cells.cells.push_back(seed_cell(cell));
    table.rows.push_back(std::move(cells));
  }
  doc.blocks.emplace_back(std::move(table));
}

Document run_document(const AnalysedRun& input) {
  Document doc{"scalelab report", {}};
  run_section(doc, input);
  seed_section(doc, input.analysis);
  environment_section(doc, input.environment);
  warnings_section(doc, input.warnings);
  const std::vector<Case> cases = case_order(input.analysis);
  if (cases.empty()) doc.blocks.emplace_back(Paragraph{"No trials on record.", "", ""});
  scan_section(doc, input.analysis, recorded_axes(input.spec));
  for (const auto& c : cases) workload_section(doc, input.analysis, c);
  conclusions_section(doc, input.analysis.conclusions);
  return doc;
}

}  // namespace scalelab::detail
