// A run's final files from its analysis: results.json, report.md and report.html.

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
nlohmann::json results_json(const RecordedRun& run, const AnalysedRun& input) {
  nlohmann::json all{{"environment", input.environment},
                     {"spec", input.spec},
                     {"calibration", run.header.calibration},
                     {"workload_specs", run.header.workload_specs},
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
         {"point", w.point},
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
    all["conclusions"].push_back({{"workload", c.workload}, {"point", c.point}, {"text", c.text}});
  }
  return all;
}

void write_reports(const std::filesystem::path& dir, const AnalysedRun& input) {
  write_file_atomically(dir / "report.md", render_markdown(input));
  write_file_atomically(dir / "report.html", render_html(input));
}

}  // namespace scalelab
