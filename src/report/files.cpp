// A run's report files: the analysis of its records, rendered as report.md and report.html.

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>

#include <fmt/format.h>

#include "scalelab/error.hpp"
#include "scalelab/records.hpp"
#include "scalelab/report.hpp"

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

ReportInput make_report_input(const RecordedRun& run) {
  ReportInput input;
  const nlohmann::json& header = run.header;
  input.spec = header.value("spec", nlohmann::json::object());
  input.environment = header.value("environment", nlohmann::json::object());
  if (!input.environment.is_object()) input.environment = nlohmann::json::object();
  if (!input.spec.is_object()) input.spec = nlohmann::json::object();
  AnalysisOptions options;
  // The figures are about the machine that ran the trials, and the bootstrap is seeded by the
  // run's own seed: the same records always give the same report.
  options.cores =
      std::max(1, number_or<int>(input.environment, "usable_cores",
                                 number_or<int>(input.environment, "logical_cores", 1)));
  options.seed = number_or<std::uint64_t>(input.spec, "seed", 0);
  input.analysis = analyze(run.trials, string_list(input.spec, "workloads"),
                           string_list(input.spec, "models"), options);
  input.warnings = environment_warnings(input.environment);
  for (const auto& w : run.warnings) input.warnings.push_back(w);
  input.interrupted = run.interrupted;
  input.planned_trials = number_or<std::size_t>(header, "planned_trials", run.trials.size());
  input.recorded_trials = run.trials.size();
  return input;
}

nlohmann::json results_json(const RecordedRun& run, const ReportInput& input) {
  nlohmann::json all{
      {"environment", input.environment},
      {"spec", input.spec},
      {"calibration", run.header.value("calibration", nlohmann::json::object())},
      {"workload_specs", run.header.value("workload_specs", nlohmann::json::array())},
      {"interrupted", input.interrupted},
      {"planned_trials", input.planned_trials},
      {"warnings", input.warnings},
      {"trials", nlohmann::json::array()},
      {"workloads", nlohmann::json::array()},
      {"summary", nlohmann::json::array()},
      {"fits", nlohmann::json::array()},
      {"conclusions", nlohmann::json::array()}};
  for (const auto& t : run.trials) all["trials"].push_back(to_json(t));
  for (const auto& w : input.analysis.workloads) {
    all["workloads"].push_back(
        {{"workload", w.workload},
         {"bound", to_string(w.bound)},
         {"serial_cpu_util", w.serial_cpu_util},
         {"tasks", w.tasks},
         // What serial_cpu_util was read from: "serial", or
         // "<model>@<workers>" when serial did not run.
         {"baseline", w.baseline_model == "serial"
                          ? w.baseline_model
                          : fmt::format("{}@{}", w.baseline_model, w.baseline_workers)}});
  }
  for (const auto& r : input.analysis.rows) all["summary"].push_back(to_json(r));
  for (const auto& f : input.analysis.fits) all["fits"].push_back(to_json(f));
  for (const auto& c : input.analysis.conclusions) {
    all["conclusions"].push_back({{"workload", c.workload}, {"text", c.text}});
  }
  return all;
}

void write_reports(const std::filesystem::path& dir, const ReportInput& input) {
  write_file_atomically(dir / "report.md", render_markdown(input));
  write_file_atomically(dir / "report.html", render_html(input));
}

}  // namespace scalelab
