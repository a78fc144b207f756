// report.md: the run, its environment, one table per workload, the fits and the conclusions.
//
// Every figure comes from AnalysedRun as computed by the analysis; this file only picks a
// format for each. Number formats are fixed (explicit fmt precision, never the locale), so the
// same input gives the same bytes. render_html (html.cpp) shows the same content with the same
// formats, both from report/cells.hpp; a change to a column here belongs there too.

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "report/cells.hpp"
#include "scalelab/parse.hpp"
#include "scalelab/report.hpp"

namespace scalelab {
namespace {

// The shared cell texts (report/cells.hpp).
using namespace detail;

// Text that Markdown shows as written, inside a table cell or not: `|` would end a cell, `<`
// could open an HTML tag, `*` and backticks would start emphasis or code, a newline would end
// the row.
std::string md(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '|':
        out += "\\|";
        break;
      case '*':
        out += "\\*";
        break;
      case '`':
        out += "\\`";
        break;
      case '<':
        out += "&lt;";
        break;
      case '\n':
        out += ' ';
        break;
      case '\r':
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string row_line(const std::vector<std::string>& cells) {
  std::string out = "|";
  for (const auto& cell : cells) out += " " + cell + " |";
  return out + "\n";
}

void run_section(std::string& out, const AnalysedRun& input) {
  const nlohmann::json& spec = input.spec;
  out += "## Run\n\n";
  if (input.interrupted) {
    out += fmt::format(
        "**Interrupted: {} of {} planned trials recorded.** The figures below use the trials "
        "on record.\n\n",
        input.recorded_trials, input.planned_trials);
  }
  out += fmt::format("- Workloads: {}\n", md(field_text(spec, "workloads")));
  out += fmt::format("- Models: {}\n", md(field_text(spec, "models")));
  out += fmt::format("- Workers: {}\n", md(field_text(spec, "workers")));
  out += fmt::format("- Tasks per trial: {}\n", md(field_text(spec, "tasks")));
  const nlohmann::json& warmup = field(spec, "warmup");
  out += fmt::format(
      "- Repeats: {} counted trials per point{}\n", md(field_text(spec, "repeat")),
      warmup.is_boolean() ? (warmup.get<bool>() ? ", after one warm-up" : ", no warm-up") : "");
  out += fmt::format("- Seed: {}\n", md(field_text(spec, "seed")));
  out += fmt::format("- Task sizes: {}\n", md(task_sizes(spec)));
  for (const auto& [label, value] : model_settings(spec)) {
    out += fmt::format("- {}: {}\n", md(label), md(value));
  }
  if (input.planned_trials > 0 || input.recorded_trials > 0) {
    out += fmt::format("- Trials: {} of {} planned on record\n", input.recorded_trials,
                       input.planned_trials);
  }
  out += fmt::format("- Usable cores assumed by the analysis: {}\n\n", input.analysis.cores);
}

void environment_section(std::string& out, const nlohmann::json& env) {
  out += "## Environment\n\n";
  out += fmt::format("- CPU: {}\n", md(field_text(env, "cpu_model")));
  out += fmt::format("- Cores: {} logical, {} physical, {} usable\n",
                     md(field_text(env, "logical_cores")), md(field_text(env, "physical_cores")),
                     md(field_text(env, "usable_cores")));
  out += fmt::format("- Governor: {}\n", md(field_text(env, "governor")));
  out += fmt::format("- Load average (1 min): {}\n", md(field_text(env, "load_avg_1m")));
  out += fmt::format("- Kernel: {}\n", md(field_text(env, "kernel")));
  out += fmt::format("- Compiler: {}\n", md(field_text(env, "compiler")));
  out += fmt::format("- Build type: {}\n", md(field_text(env, "build_type")));
  if (const std::string runtimes = runtimes_text(env); !runtimes.empty()) {
    out += fmt::format("- Embedded runtimes: {}\n", md(runtimes));
  }
  out += fmt::format("- scalelab version: {}\n\n", md(field_text(env, "scalelab_version")));
}

void workload_section(std::string& out, const Analysis& analysis, const std::string& workload) {
  const auto profile =
      std::find_if(analysis.workloads.begin(), analysis.workloads.end(),
                   [&](const WorkloadProfile& p) { return p.workload == workload; });
  if (profile != analysis.workloads.end()) {
    out += fmt::format("## {} ({})\n\n", md(workload), to_string(profile->bound));
    out += md(profile_line(*profile)) + "\n\n";
  } else {
    out += fmt::format("## {}\n\n", md(workload));
  }

  out += row_line({"model", "workers", "median", "95 % CI", "CV", "p90", "speedup (95 % CI)",
                   "efficiency", "ideal", "CPU util", "note"});
  out += "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n";
  for (const SummaryRow& row : analysis.rows) {
    if (row.workload != workload) continue;
    if (row.trials == 0) {
      out += row_line({md(row.model), fmt::format("{}", row.workers), dash, dash, dash, dash, dash,
                       dash, times(row.ideal), dash, md(note(row))});
      continue;
    }
    std::string speedup = dash;
    if (row.speedup) {
      speedup = times(*row.speedup);
      if (row.speedup_ci) {
        speedup +=
            fmt::format(" [{}, {}]", times(row.speedup_ci->low), times(row.speedup_ci->high));
      }
    }
    out +=
        row_line({md(row.model), fmt::format("{}", row.workers), format_duration(row.wall.median),
                  fmt::format("[{}, {}]", format_duration(row.wall_ci.low),
                              format_duration(row.wall_ci.high)),
                  fmt::format("{:.1f} %", row.wall.cv * 100), format_duration(row.wall.p90),
                  speedup, row.efficiency ? percent(*row.efficiency) : dash, times(row.ideal),
                  fmt::format("{:.2f}", row.cpu_util), md(note(row))});
  }
  out += "\n";

  bool any_fit = false;
  for (const ScalingFit& fit : analysis.fits) {
    if (fit.workload != workload) continue;
    if (!any_fit) {
      out += "### Fits\n\n";
      out += row_line({"model", "points", "Amdahl serial fraction", "Amdahl R²", "USL σ", "USL κ",
                       "USL peak W*", "USL R²", "note"});
      out += "|---|--:|--:|--:|--:|--:|--:|--:|---|\n";
      any_fit = true;
    }
    if (!fit.fitted()) {
      out += row_line({md(fit.model), fmt::format("{}", fit.points), dash, dash, dash, dash, dash,
                       dash, md("not fitted: " + fit.refused)});
      continue;
    }
    out += row_line({md(fit.model), fmt::format("{}", fit.points),
                     fmt::format("{:.4f}", fit.amdahl_serial_fraction),
                     fmt::format("{:.3f}", fit.amdahl_r2), fmt::format("{:.3g}", fit.usl_sigma),
                     fmt::format("{:.3g}", fit.usl_kappa),
                     fit.usl_peak_workers ? fmt::format("{:.1f}", *fit.usl_peak_workers) : dash,
                     fmt::format("{:.3f}", fit.usl_r2), ""});
  }
  if (any_fit) out += "\n";
}

}  // namespace

std::string render_markdown(const AnalysedRun& input) {
  std::string out = "# scalelab report\n\n";
  run_section(out, input);
  environment_section(out, input.environment);
  if (!input.warnings.empty()) {
    out += "## Warnings\n\n";
    for (const auto& warning : input.warnings) out += fmt::format("- {}\n", md(warning));
    out += "\n";
  }
  const std::vector<std::string> workloads = workload_order(input.analysis);
  if (workloads.empty()) out += "No trials on record.\n\n";
  for (const auto& workload : workloads) workload_section(out, input.analysis, workload);

  out += "## Conclusions\n\n";
  if (input.analysis.conclusions.empty()) out += "- None: too few points to say anything.\n";
  for (const Conclusion& conclusion : input.analysis.conclusions) {
    if (conclusion.workload.empty()) {
      out += fmt::format("- {}\n", md(conclusion.text));
    } else {
      out += fmt::format("- **{}**: {}\n", md(conclusion.workload), md(conclusion.text));
    }
  }
  return out;
}

}  // namespace scalelab
