#pragma once
// The order of (workload, model, workers) points, shared by the summary (stats.cpp) and the
// comparison of two runs (compare.cpp): workloads and models in a given order, names not in it
// after them in the order they first appear, then workers ascending.

#include <algorithm>
#include <cstddef>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "scalelab/trial.hpp"

namespace scalelab::detail {

/// Sorts points by workload rank, model rank, workers; the names make the key unique.
using PointKey = std::tuple<std::size_t, std::size_t, int, std::string, std::string>;

/// Ranks of workload and model names; unknown names rank after every known one.
class PointOrder {
 public:
  /// Starts from the given orders (either may be empty).
  PointOrder(std::vector<std::string> workloads, std::vector<std::string> models)
      : workloads_(std::move(workloads)), models_(std::move(models)) {}

  /// Appends the trial's workload and model if they are not ranked yet.
  void add(const Trial& t) {
    if (std::find(workloads_.begin(), workloads_.end(), t.workload) == workloads_.end()) {
      workloads_.push_back(t.workload);
    }
    if (std::find(models_.begin(), models_.end(), t.model) == models_.end()) {
      models_.push_back(t.model);
    }
  }

  /// The trial's point as a sortable key.
  PointKey key(const Trial& t) const {
    return {rank(workloads_, t.workload), rank(models_, t.model), t.workers, t.workload, t.model};
  }

 private:
  static std::size_t rank(const std::vector<std::string>& order, const std::string& name) {
    return static_cast<std::size_t>(std::find(order.begin(), order.end(), name) - order.begin());
  }
  std::vector<std::string> workloads_, models_;
};

}  // namespace scalelab::detail
