// The console tables: one per workload for a run, one per workload for a comparison of two.
// A run's rows end with their marks, as report.md's note column has them: failed trials,
// impossible figures with their likely cause, noisy, disturbed trials.

#include <optional>

#include <fmt/format.h>

#include "report/cells.hpp"

#include "scalelab/parse.hpp"
#include "scalelab/report.hpp"

namespace scalelab {

void print_console_tables(std::ostream& out, const std::vector<SummaryRow>& rows) {
  std::optional<detail::Case> current;
  for (const auto& row : rows) {
    if (const detail::Case c{row.workload, row.point}; !current || c != *current) {
      current = c;
      out << fmt::format("\n{}\n{:<12} {:>7} {:>11} {:>24} {:>6} {:>8} {:>10} {:>8}\n",
                         current->title(), "model", "workers", "median", "95 % CI", "cv", "speedup",
                         "efficiency", "cpu util");
    }
    if (row.trials == 0) {
      out << fmt::format("{:<12} {:>7} {:>11}  all {} trials failed", row.model, row.workers, "-",
                         row.failed);
      if (row.disturbed > 0) out << "  " << detail::disturbed_note(row);
      out << "\n";
      continue;
    }
    const std::string speedup = row.speedup ? fmt::format("{:.2f}x", *row.speedup) : "-";
    const std::string efficiency =
        row.efficiency ? fmt::format("{:.0f}%", *row.efficiency * 100) : "-";
    const std::string ci = fmt::format("[{}, {}]", format_duration(row.wall_ci.low),
                                       format_duration(row.wall_ci.high));
    out << fmt::format("{:<12} {:>7} {:>11} {:>24} {:>5.1f}% {:>8} {:>10} {:>8.2f}", row.model,
                       row.workers, format_duration(row.wall.median), ci, row.wall.cv * 100,
                       speedup, efficiency, row.cpu_util);
    if (row.failed > 0) out << fmt::format("  ({} failed)", row.failed);
    if (row.is_impossible()) out << "  impossible: " << impossible_text(row);
    if (row.noisy) out << "  noisy: " << row.noise_reason;
    if (row.disturbed > 0) out << "  " << detail::disturbed_note(row);
    out << "\n";
  }
}

void print_comparison(std::ostream& out, const std::vector<ComparisonRow>& rows,
                      const std::string& name_a, const std::string& name_b) {
  out << fmt::format(
      "A: {}\nB: {}\nratio = median B / median A (below 1: B is faster); p from a "
      "two-sided Mann-Whitney U test\n",
      name_a, name_b);
  if (rows.empty()) {
    out << "\nno (workload, model, workers) point ran in both\n";
    return;
  }
  std::size_t faster = 0, slower = 0, same = 0;
  std::string current;
  bool first = true;
  for (const auto& row : rows) {
    // A table per workload, and per point of a scan: "io (io-wait=1ms, tasks=100)".
    const std::string at = point_text(row.point);
    const std::string title = at.empty() ? row.workload : fmt::format("{} ({})", row.workload, at);
    if (first || title != current) {
      current = title;
      first = false;
      out << fmt::format("\n{}\n{:<12} {:>7} {:>11} {:>11} {:>22} {:>7}  {}\n", current, "model",
                         "workers", "median A", "median B", "B/A [95 % CI]", "p", "verdict");
    }
    const std::string ratio =
        fmt::format("{:.2f} [{:.2f}, {:.2f}]", row.ratio, row.ratio_ci.low, row.ratio_ci.high);
    // Below 0.001 the digits say nothing more, and "0.000" would read as certainty.
    const std::string p =
        row.test.p_value < 0.001 ? std::string("<0.001") : fmt::format("{:.3f}", row.test.p_value);
    out << fmt::format("{:<12} {:>7} {:>11} {:>11} {:>22} {:>7}  {}\n", row.model, row.workers,
                       format_duration(row.a.median), format_duration(row.b.median), ratio, p,
                       row.verdict);
    if (row.verdict == "faster") {
      ++faster;
    } else if (row.verdict == "slower") {
      ++slower;
    } else {
      ++same;
    }
  }
  out << fmt::format("\nB against A: {} faster, {} slower, {} no significant difference\n", faster,
                     slower, same);
}

}  // namespace scalelab
