// The seed's table (issue 13, item 3): the seed's models on its two tasks, C++ next to Python's
// own executors, and the conclusions that compare the two worlds.

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "analysis/wording.hpp"
#include "scalelab/analysis.hpp"

using scalelab::detail::times;
using scalelab::detail::workers_text;

namespace scalelab {
namespace {

// The seed's two tasks, each in C++ and in Python, and its models in both worlds.
struct World {
  const char* cpu;
  const char* io;
};
constexpr World kCpp{"cpu", "io"};
constexpr World kPython{"python", "python-io"};
struct ModelPair {
  const char* cpp;
  const char* python;
};
constexpr std::array<ModelPair, 4> kModels{{{"serial", "serial"},
                                            {"threads", "py-threads"},
                                            {"processes", "py-processes"},
                                            {"async", "py-asyncio"}}};

bool is_python(const std::string& workload) {
  return workload == kPython.cpu || workload == kPython.io;
}

// The model's best point on the workload: its best speedup, else its fastest median. Among
// more than one worker when it ran with more: the seed's question is how a model scales, and a
// 1-worker point above serial is the baseline's noise, not scaling.
SeedCell best_cell(const std::vector<SummaryRow>& rows, const std::string& workload,
                   const std::string& model) {
  SeedCell cell;
  cell.workload = workload;
  cell.model = model;
  const bool several = std::any_of(rows.begin(), rows.end(), [&](const SummaryRow& r) {
    return r.workload == workload && r.model == model && r.trials > 0 && r.workers > 1;
  });
  for (const auto& row : rows) {
    if (row.workload != workload || row.model != model || row.trials == 0) continue;
    if (several && row.workers == 1) continue;
    const bool better = !cell.ran ||
                        (row.speedup && (!cell.speedup || *row.speedup > *cell.speedup)) ||
                        (!row.speedup && !cell.speedup && row.wall.median < cell.median_s);
    if (!better) continue;
    cell.ran = true;
    cell.speedup = model == "serial" ? std::nullopt : row.speedup;
    cell.workers = row.workers;
    cell.median_s = row.wall.median;
  }
  return cell;
}

}  // namespace

std::optional<SeedTable> seed_table(const std::vector<SummaryRow>& rows) {
  const auto has = [&](const char* workload) {
    return std::any_of(rows.begin(), rows.end(),
                       [&](const SummaryRow& r) { return r.workload == workload && r.trials > 0; });
  };
  SeedTable table;
  for (const char* workload : {kCpp.cpu, kPython.cpu, kCpp.io, kPython.io}) {
    if (has(workload)) table.workloads.push_back(workload);
  }
  const bool both = std::any_of(table.workloads.begin(), table.workloads.end(), is_python) &&
                    !std::all_of(table.workloads.begin(), table.workloads.end(), is_python);
  const bool scan =
      std::any_of(rows.begin(), rows.end(), [](const SummaryRow& r) { return !r.point.empty(); });
  if (!both || scan) return std::nullopt;
  for (const auto& pair : kModels) {
    SeedTable::Row row{pair.cpp == std::string(pair.python)
                           ? std::string(pair.cpp)
                           : fmt::format("{} / {}", pair.cpp, pair.python),
                       {}};
    bool any = false;
    for (const auto& workload : table.workloads) {
      row.cells.push_back(best_cell(rows, workload, is_python(workload) ? pair.python : pair.cpp));
      any = any || row.cells.back().ran;
    }
    if (any) table.rows.push_back(std::move(row));
  }
  return table;
}

std::vector<Conclusion> seed_sentences(const SeedTable& table) {
  std::vector<Conclusion> out;
  const auto cell_of = [&](const SeedTable::Row& row, const char* workload) -> const SeedCell* {
    for (const auto& cell : row.cells) {
      if (cell.workload == workload && cell.ran && cell.speedup) return &cell;
    }
    return nullptr;
  };
  // "stayed at" below 1.1×: no scaling to speak of.
  const auto reached = [](const SeedCell& c) {
    return fmt::format("{} {} at {}", *c.speedup < 1.1 ? "stayed at" : "reached", times(*c.speedup),
                       workers_text(c.workers));
  };
  for (const auto& [bound, cpp_workload, python_workload] :
       {std::array<const char*, 3>{"CPU-bound", kCpp.cpu, kPython.cpu},
        std::array<const char*, 3>{"I/O-bound", kCpp.io, kPython.io}}) {
    for (const auto& row : table.rows) {
      const SeedCell* cpp = cell_of(row, cpp_workload);
      const SeedCell* python = cell_of(row, python_workload);
      if (cpp == nullptr || python == nullptr) continue;
      out.push_back({"", fmt::format("{}, the seed's two worlds: {} {} while C++ {} {}", bound,
                                     python->model, reached(*python), cpp->model, reached(*cpp))});
    }
  }
  return out;
}

}  // namespace scalelab
