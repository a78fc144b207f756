// Descriptive statistics and the per-point summary (speedup, efficiency).

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "scalelab/analysis.hpp"

namespace scalelab {

Stats describe(std::span<const double> values) {
  Stats s;
  s.n = values.size();
  if (s.n == 0) return s;
  std::vector<double> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  s.min = sorted.front();
  s.max = sorted.back();
  const std::size_t mid = s.n / 2;
  s.median = s.n % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  s.mean = std::accumulate(sorted.begin(), sorted.end(), 0.0) / static_cast<double>(s.n);
  if (s.n > 1) {
    double squares = 0;
    for (double v : sorted) squares += (v - s.mean) * (v - s.mean);
    s.stddev = std::sqrt(squares / static_cast<double>(s.n - 1));
  }
  s.cv = s.mean != 0 ? s.stddev / s.mean : 0;
  return s;
}

std::vector<SummaryRow> summarize(const std::vector<Trial>& trials,
                                  const std::vector<std::string>& workload_order,
                                  const std::vector<std::string>& model_order) {
  // Names missing from the given orders go after them, in the order they first appear.
  std::vector<std::string> workloads = workload_order, models = model_order;
  for (const auto& t : trials) {
    if (std::find(workloads.begin(), workloads.end(), t.workload) == workloads.end()) {
      workloads.push_back(t.workload);
    }
    if (std::find(models.begin(), models.end(), t.model) == models.end()) models.push_back(t.model);
  }
  const auto rank = [](const std::vector<std::string>& order, const std::string& name) {
    return static_cast<std::size_t>(std::find(order.begin(), order.end(), name) - order.begin());
  };
  using Key = std::tuple<std::size_t, std::size_t, int, std::string, std::string>;
  struct Group {
    std::vector<double> wall, util, startup;
    std::size_t failed = 0;
  };
  std::map<Key, Group> groups;
  for (const auto& t : trials) {
    if (t.warmup()) continue;
    auto& g = groups[{rank(workloads, t.workload), rank(models, t.model), t.workers, t.workload,
                      t.model}];
    if (t.failed()) {
      ++g.failed;
      continue;
    }
    g.wall.push_back(t.wall_s);
    g.util.push_back(t.cpu_util());
    g.startup.push_back(t.startup_s);
  }

  std::vector<SummaryRow> rows;
  for (const auto& [key, g] : groups) {
    SummaryRow row;
    row.workload = std::get<3>(key);
    row.model = std::get<4>(key);
    row.workers = std::get<2>(key);
    row.trials = g.wall.size();
    row.failed = g.failed;
    row.wall = describe(g.wall);
    row.cpu_util = describe(g.util).median;
    row.startup_s = describe(g.startup).median;
    rows.push_back(row);
  }
  // Baseline: serial for the workload; without it, the same model at 1 worker.
  for (auto& row : rows) {
    const SummaryRow* base = nullptr;
    for (const auto& other : rows) {
      if (other.workload != row.workload || other.trials == 0) continue;
      if (other.model == "serial") {
        base = &other;
        break;
      }
    }
    if (base == nullptr) {
      for (const auto& other : rows) {
        if (other.workload == row.workload && other.model == row.model && other.workers == 1 &&
            other.trials > 0) {
          base = &other;
        }
      }
    }
    if (base == nullptr || row.trials == 0 || row.wall.median <= 0) continue;
    row.baseline = base->model == "serial" ? "serial" : base->model + "@1";
    row.speedup = base->wall.median / row.wall.median;
    row.efficiency = *row.speedup / row.workers;
  }
  return rows;
}

nlohmann::json to_json(const SummaryRow& row) {
  const auto optional = [](const std::optional<double>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  const bool any = row.trials > 0;
  return {
      {"workload", row.workload},
      {"model", row.model},
      {"workers", row.workers},
      {"trials", row.trials},
      {"failed", row.failed},
      {"median_s", any ? nlohmann::json(row.wall.median) : nlohmann::json(nullptr)},
      {"mean_s", any ? nlohmann::json(row.wall.mean) : nlohmann::json(nullptr)},
      {"min_s", any ? nlohmann::json(row.wall.min) : nlohmann::json(nullptr)},
      {"max_s", any ? nlohmann::json(row.wall.max) : nlohmann::json(nullptr)},
      {"stddev_s", any ? nlohmann::json(row.wall.stddev) : nlohmann::json(nullptr)},
      {"cv", any ? nlohmann::json(row.wall.cv) : nlohmann::json(nullptr)},
      {"speedup", optional(row.speedup)},
      {"efficiency", optional(row.efficiency)},
      {"baseline", row.baseline.empty() ? nlohmann::json(nullptr) : nlohmann::json(row.baseline)},
      {"cpu_util", any ? nlohmann::json(row.cpu_util) : nlohmann::json(nullptr)},
      {"startup_s", any ? nlohmann::json(row.startup_s) : nlohmann::json(nullptr)},
  };
}

}  // namespace scalelab
