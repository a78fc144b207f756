// Scan axes: a parameter given a list of values, or several task counts, expands a spec into
// one point per combination; each point's trials record the values that made them.

#include <algorithm>

#include <fmt/format.h>

#include "scalelab/plan.hpp"

namespace scalelab {

std::vector<ScanAxis> scan_axes(const Spec& spec) {
  return recorded_axes(to_json(spec));
}

std::vector<nlohmann::json> scan_points(const Spec& spec) {
  return combinations(scan_axes(spec));
}

std::vector<nlohmann::json> combinations(const std::vector<ScanAxis>& axes) {
  std::vector<nlohmann::json> points{nlohmann::json::object()};
  for (const auto& axis : axes) {
    std::vector<nlohmann::json> next;
    for (const auto& point : points) {
      for (const auto& value : axis.values) {
        nlohmann::json p = point;
        p[axis.key] = value;
        next.push_back(std::move(p));
      }
    }
    points = std::move(next);
  }
  return points;
}

Spec spec_at(const Spec& spec, const nlohmann::json& point) {
  Spec at = spec;
  for (const auto& [key, value] : point.items()) {
    if (key == "tasks") {
      at.tasks = {value.get<std::size_t>()};
    } else {
      at.params.set(key, value);
    }
  }
  return at;
}

std::vector<ScanAxis> recorded_axes(const nlohmann::json& spec) {
  std::vector<ScanAxis> axes;
  if (!spec.is_object()) return axes;
  for (const auto& [key, value] : spec.items()) {
    if (!value.is_array() || key == "workloads" || key == "models" || key == "workers") continue;
    axes.push_back({key, {value.begin(), value.end()}});
  }
  // As scan_axes orders them: the parameters, then the task count.
  std::stable_partition(axes.begin(), axes.end(),
                        [](const ScanAxis& a) { return a.key != "tasks"; });
  return axes;
}

bool point_within(const nlohmann::json& inner, const nlohmann::json& outer) {
  if (!inner.is_object()) return true;
  if (!outer.is_object()) return inner.empty();
  for (const auto& [key, value] : inner.items()) {
    const auto it = outer.find(key);
    if (it == outer.end() || *it != value) return false;
  }
  return true;
}

std::vector<std::size_t> point_rank(const std::vector<ScanAxis>& axes,
                                    const nlohmann::json& point) {
  std::vector<std::size_t> rank;
  for (const auto& axis : axes) {
    const auto it = point.is_object() ? point.find(axis.key) : point.end();
    std::size_t index = axis.values.size();
    if (point.is_object() && it != point.end()) {
      index = static_cast<std::size_t>(std::find(axis.values.begin(), axis.values.end(), *it) -
                                       axis.values.begin());
    }
    rank.push_back(index);
  }
  return rank;
}

nlohmann::json trial_point(const Plan& plan, const PlannedTrial& trial) {
  nlohmann::json point = plan.workloads.at(trial.workload).point;
  for (const auto& [key, value] : trial.model_point.items()) point[key] = value;
  return point;
}

ModelOptions trial_options(const Plan& plan, const PlannedTrial& trial) {
  ModelOptions options = plan.options;
  const nlohmann::json point = trial_point(plan, trial);
  for (const auto& [key, value] : point.items()) {
    // Only the scanned lists are replaced; a point's other fields (a granularity sweep's task
    // size, the task count) are no model's parameters.
    if (options.params.has(key) && options.params.json().at(key).is_array()) {
      options.params.set(key, value);
    }
  }
  options.params = with_own(std::move(options.params), plan.own_params, trial.model);
  return options;
}

}  // namespace scalelab
