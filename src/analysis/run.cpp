// A recorded run analysed as a whole: the order, cores and seed its records name.

#include <algorithm>
#include <cmath>
#include <limits>

#include "scalelab/analysis.hpp"
#include "scalelab/records.hpp"

namespace scalelab {
namespace {

std::vector<std::string> string_list(const nlohmann::json& json, const char* key) {
  std::vector<std::string> names;
  const auto it = json.find(key);
  if (it == json.end() || !it->is_array()) return names;
  for (const auto& v : *it) {
    if (v.is_string()) names.push_back(v.get<std::string>());
  }
  return names;
}

template <typename T>
T number_or(const nlohmann::json& json, const char* key, T fallback) {
  const auto it = json.find(key);
  if (it == json.end() || !it->is_number()) return fallback;
  const double value = it->get<double>();
  if (!(value >= static_cast<double>(std::numeric_limits<T>::lowest()) &&
        value < std::ldexp(1.0, std::numeric_limits<T>::digits))) {  // max() rounds up to this
    return fallback;
  }
  return it->get<T>();
}

}  // namespace

AnalysedRun analyze_run(const RecordedRun& run) {
  AnalysedRun result;
  static_cast<RecordFacts&>(result) = record_facts(run);
  AnalysisOptions options;
  // The figures are about the machine that ran the trials, and the bootstrap is seeded by the
  // run's own seed: the same records always give the same report.
  options.cores =
      std::max(1, number_or<int>(result.environment, "usable_cores",
                                 number_or<int>(result.environment, "logical_cores", 1)));
  options.seed = number_or<std::uint64_t>(result.spec, "seed", 0);
  result.analysis =
      analyze_points(run.trials, string_list(result.spec, "workloads"),
                     string_list(result.spec, "models"), options, recorded_axes(result.spec));
  return result;
}

}  // namespace scalelab
