// The console table: one per workload.

#include <fmt/format.h>

#include "scalelab/parse.hpp"
#include "scalelab/report.hpp"

namespace scalelab {

void print_console_tables(std::ostream& out, const std::vector<SummaryRow>& rows) {
  std::string current;
  for (const auto& row : rows) {
    if (row.workload != current) {
      current = row.workload;
      out << fmt::format("\n{}\n{:<10} {:>7} {:>11} {:>6} {:>8} {:>10} {:>8}\n", current, "model",
                         "workers", "median", "cv", "speedup", "efficiency", "cpu util");
    }
    if (row.trials == 0) {
      out << fmt::format("{:<10} {:>7} {:>11}  all {} trials failed\n", row.model, row.workers, "-",
                         row.failed);
      continue;
    }
    const std::string speedup = row.speedup ? fmt::format("{:.2f}x", *row.speedup) : "-";
    const std::string efficiency =
        row.efficiency ? fmt::format("{:.0f}%", *row.efficiency * 100) : "-";
    out << fmt::format("{:<10} {:>7} {:>11} {:>5.1f}% {:>8} {:>10} {:>8.2f}", row.model,
                       row.workers, format_duration(row.wall.median), row.wall.cv * 100, speedup,
                       efficiency, row.cpu_util);
    if (row.failed > 0) out << fmt::format("  ({} failed)", row.failed);
    out << "\n";
  }
}

}  // namespace scalelab
