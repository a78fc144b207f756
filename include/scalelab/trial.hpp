#pragma once
/// \file trial.hpp
/// One trial's measurements, and running trials.

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scalelab/model.hpp"
#include "scalelab/plan.hpp"

namespace scalelab {

/// What one (workload, model, workers, repeat) measured.
struct Trial {
  std::string workload;              ///< workload name
  std::string model;                 ///< model name
  int workers = 1;                   ///< worker count
  int repeat = 0;                    ///< 0-based; -1 for a warm-up
  std::size_t tasks = 0;             ///< tasks asked for
  std::size_t tasks_done = 0;        ///< tasks that ran exactly once and returned
  double wall_s = 0;                 ///< first dispatch to last result, steady clock
  double startup_s = 0;              ///< starting and warming the pool (not in wall_s)
  double user_s = 0;                 ///< user CPU, this process + process workers
  double sys_s = 0;                  ///< system CPU, this process + process workers
  std::int64_t voluntary_ctx = 0;    ///< voluntary context switches, likewise
  std::int64_t involuntary_ctx = 0;  ///< involuntary context switches, likewise
  std::int64_t max_rss_kib = 0;      ///< peak RSS of this process (+ each process worker's peak)
  int max_in_flight = 0;             ///< most tasks running at once
  std::map<std::string, double> counters;  ///< the model's own, e.g. gil_switches, gil_wait_s
  bool checksum_ok = false;                ///< every task ran once and returned the serial checksum
  std::string error;                       ///< why the trial failed; empty if it did not
  std::vector<double> task_start_s;        ///< per task, seconds after the clock started
  std::vector<double> task_end_s;          ///< per task, seconds after the clock started

  bool failed() const { return !error.empty(); }  ///< whether the trial failed
  bool warmup() const { return repeat < 0; }      ///< an uncounted warm-up trial
  /// (user + sys) / wall: how many cores were busy on average.
  double cpu_util() const { return wall_s > 0 ? (user_s + sys_s) / wall_s : 0; }
};

/// The trial as one JSON object (the records' line format).
nlohmann::json to_json(const Trial& trial);

/// Runs one trial: starts the pool (timed apart), runs the batch, measures, checks every
/// task against `expected` (the serial checksums). Never throws for a failure of the trial
/// itself: that is recorded in Trial::error.
Trial run_trial(const Workload& workload, const Model& model, const std::string& model_name,
                int workers, int repeat, std::size_t tasks,
                const std::vector<std::uint64_t>& expected, const ModelOptions& options);

/// Called as the runner goes: after each trial (warm-ups included).
struct RunObserver {
  std::function<void(const Trial&, std::size_t done, std::size_t total)> on_trial;
};

/// Runs every trial of `plan` in order and returns the counted ones.
std::vector<Trial> run_plan(const Spec& spec, const Plan& plan, const RunObserver& observer);

}  // namespace scalelab
