#pragma once
/// \file resume.hpp
/// Continuing an interrupted run: its spec and plan rebuilt from its records, less the trials
/// already on record.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scalelab/plan.hpp"
#include "scalelab/records.hpp"

namespace scalelab {

/// Inverse of to_json(Spec); throws Error naming the field that is missing or wrong.
Spec spec_from_json(const nlohmann::json& json);

/// The trials of `plan` not in `recorded` (same workload, point, model, workers and repeat), in
/// plan order. With `warmup`, each group that still has trials gets its warm-up again right before
/// its first remaining trial: the resumed process starts cold.
Plan remaining_plan(const Plan& plan, const std::vector<Trial>& recorded, bool warmup);

/// What is left of a recorded run.
struct Resumption {
  Spec spec;                 ///< as recorded: same seed, same task sizes
  Plan plan;                 ///< the remaining trials only
  std::size_t planned = 0;   ///< counted trials of the whole plan
  std::size_t recorded = 0;  ///< counted trials already on record
  int cores = 1;             ///< the usable cores the plan was made for (the recorded machine's)
};

/// Rebuilds the plan of `run` exactly as it was made (the recorded spec, seed, resolved task
/// sizes and core count) and keeps only the trials not on record. Throws Error when the
/// records cannot be resumed (no spec, unknown workload or model).
Resumption plan_resumption(const RecordedRun& run);

}  // namespace scalelab
