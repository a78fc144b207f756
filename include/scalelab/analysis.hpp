#pragma once
/// \file analysis.hpp
/// From trials to figures: per (workload, model, workers) statistics, speedup and efficiency.
/// Pure functions: no I/O.

#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scalelab/trial.hpp"

namespace scalelab {

/// Descriptive statistics of a sample.
struct Stats {
  std::size_t n = 0;
  double min = 0, max = 0, mean = 0, median = 0;
  double stddev = 0;  ///< sample standard deviation (n − 1); 0 for n < 2
  double cv = 0;      ///< stddev / mean; 0 when mean is 0
};

/// Statistics of `values` (any order). All zero for an empty sample.
Stats describe(std::span<const double> values);

/// One line of the summary: a (workload, model, workers) point.
struct SummaryRow {
  std::string workload, model;
  int workers = 1;
  std::size_t trials = 0;  ///< counted trials that succeeded
  std::size_t failed = 0;  ///< counted trials that failed (excluded from the figures)
  Stats wall;              ///< wall seconds of the successful trials
  /// Baseline median / this median; the baseline is `serial` for the same workload when it
  /// ran, else this model at 1 worker. Empty without a usable baseline.
  std::optional<double> speedup;
  std::optional<double> efficiency;  ///< speedup / workers
  std::string baseline;              ///< "serial", "threads@1", … or empty
  double cpu_util = 0;               ///< median of (user + sys) / wall
  double startup_s = 0;              ///< median pool start-up time
};

/// Summarises counted trials, ordered by workload (as first seen), model (as first seen),
/// then workers.
std::vector<SummaryRow> summarize(const std::vector<Trial>& trials,
                                  const std::vector<std::string>& workload_order,
                                  const std::vector<std::string>& model_order);

/// A summary row as JSON (median_s, speedup, efficiency, cpu_util, …).
nlohmann::json to_json(const SummaryRow& row);

}  // namespace scalelab
