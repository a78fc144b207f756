#pragma once
/// \file scan.hpp
/// Scan axes: a parameter given several values. What a plan expands and an analysis groups by.

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace scalelab {

/// One scanned parameter: its field (Param::key, or "tasks") and its values in the order given.
struct ScanAxis {
  std::string key;
  std::vector<nlohmann::json> values;
};

/// The axes of a spec as recorded (to_json(Spec)): each field holding a list of values, other
/// than the names and worker counts a run always lists.
std::vector<ScanAxis> recorded_axes(const nlohmann::json& spec);

/// Whether every field of `inner` is in `outer` with the same value: a trial at `inner` belongs
/// to the point `outer` (a model that does not take a scanned parameter runs once for all its
/// values).
bool point_within(const nlohmann::json& inner, const nlohmann::json& outer);

/// Sorts points as their axes list the values: the index of each field's value in its axis,
/// in axis order; a field of no axis or a value not listed sorts last.
std::vector<std::size_t> point_rank(const std::vector<ScanAxis>& axes, const nlohmann::json& point);

}  // namespace scalelab
