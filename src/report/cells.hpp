#pragma once
// The cell and list texts of the reports (sections.cpp builds both from them) and the console: how
// a spec or environment value reads, the task sizes line, the ×/% figures and a row's note. Kept in
// one place so that the two reports always show the same content in the same formats; each reporter
// only escapes the text for its own markup.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "analysis/wording.hpp"
#include "scalelab/parse.hpp"
#include "scalelab/plugins.hpp"
#include "scalelab/report.hpp"
#include "support/json_field.hpp"

namespace scalelab::detail {

/// The cell text of a figure that does not exist (no baseline, all trials failed, no fit).
inline constexpr const char* dash = "—";

/// A JSON value as text: strings as they are, lists joined, missing or null "unknown".
inline std::string json_text(const nlohmann::json& value) {
  if (value.is_null()) return "unknown";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "yes" : "no";
  if (value.is_number_unsigned()) return fmt::format("{}", value.get<std::uint64_t>());
  if (value.is_number_integer()) return fmt::format("{}", value.get<std::int64_t>());
  if (value.is_number_float()) return fmt::format("{:.2f}", value.get<double>());
  if (value.is_array()) {
    std::string out;
    for (const auto& item : value) {
      if (!out.empty()) out += ", ";
      out += json_text(item);
    }
    return out.empty() ? "none" : out;
  }
  return value.dump();
}

/// The member `key` of `object` as text (json_text), "unknown" when missing.
inline std::string field_text(const nlohmann::json& object, const char* key) {
  return json_text(field(object, key));
}

/// The environment's embedded runtimes as one line, e.g. "python 3.11.2, linked into the
/// executable (/usr/bin/scalelab)" or "python 3.11.2, shared library /lib/…/libpython3.11.so.1.0";
/// empty when the run recorded none (a build without them, or an older record).
inline std::string runtimes_text(const nlohmann::json& environment) {
  const nlohmann::json& runtimes = field(environment, "runtimes");
  if (!runtimes.is_object()) return {};
  std::string out;
  for (const auto& [name, facts] : runtimes.items()) {
    if (!out.empty()) out += "; ";
    const std::string linking = field_text(facts, "linking");
    const std::string library = field_text(facts, "library");
    out += fmt::format("{} {}", name, field_text(facts, "version"));
    if (linking == "static") {
      out += fmt::format(", linked into the executable ({})", library);
    } else if (linking == "shared") {
      out += fmt::format(", shared library {}", library);
    } else {
      out += fmt::format(" ({})", library);
    }
  }
  return out;
}

/// Whether `name` is among the spec's `key` list; a spec without the list counts as having it,
/// so an older or partial spec still shows every setting it records.
inline bool selects(const nlohmann::json& spec, const char* key, const char* name) {
  const nlohmann::json& list = field(spec, key);
  if (!list.is_array()) return true;
  return std::find(list.begin(), list.end(), name) != list.end();
}

/// A number of seconds as a duration ("15.0 ms"), "unknown" when it is no number.
inline std::string seconds_text(const nlohmann::json& value) {
  return value.is_number() ? format_duration(value.get<double>()) : "unknown";
}

/// Whether one of `owners` is among the spec's `key` list (see selects).
inline bool selects_any(const nlohmann::json& spec, const char* key,
                        const std::vector<std::string>& owners) {
  return std::any_of(owners.begin(), owners.end(),
                     [&](const std::string& o) { return selects(spec, key, o.c_str()); });
}

/// The task sizes of the workloads the spec selects, joined by "; ": each recorded parameter
/// of theirs in the words its declaration gives (Param::report), e.g. "CPU work 15ms per task
/// (calibrated to iterations); I/O wait 20ms per task". Parameters of plug-ins this build does
/// not have are not shown.
inline std::string task_sizes(const nlohmann::json& spec) {
  std::string out;
  for (const auto& d : declared_params()) {
    if (d.workloads.empty() || !selects_any(spec, "workloads", d.workloads)) continue;
    const nlohmann::json& value = field(spec, d.param.key().c_str());
    if (value.is_null() || (value.is_string() && value.get<std::string>().empty())) continue;
    const std::string phrase = d.param.report_text(value);
    if (phrase.empty()) continue;
    out += (out.empty() ? "" : "; ") + phrase;
  }
  return out.empty() ? "unknown" : out;
}

/// The settings of the models the spec selects, one (label, value) each, from their
/// declarations: ("Start method", "fork"), ("GIL switch interval", "5ms").
inline std::vector<std::pair<std::string, std::string>> model_settings(const nlohmann::json& spec) {
  std::vector<std::pair<std::string, std::string>> settings;
  for (const auto& d : declared_params()) {
    if (!d.workloads.empty() || d.param.report.empty() || !selects_any(spec, "models", d.models)) {
      continue;
    }
    const nlohmann::json& value = field(spec, d.param.key().c_str());
    if (!value.is_null()) settings.emplace_back(d.param.report, d.param.text(value));
  }
  return settings;
}

/// How many of a point's trials were disturbed and whether its figures use them: "2 disturbed,
/// left out", "3 disturbed, 3 used (no undisturbed trial)"; empty when none was.
inline std::string disturbed_note(const SummaryRow& row) {
  if (row.disturbed == 0) return "";
  if (row.disturbed_used == 0) return fmt::format("{} disturbed, left out", row.disturbed);
  return fmt::format("{} disturbed, {} used (no undisturbed trial)", row.disturbed,
                     row.disturbed_used);
}

/// Whether a point's speedup or efficiency is impossible (what the charts can show).
inline bool speed_impossible(const SummaryRow& row) {
  return std::any_of(row.impossible.begin(), row.impossible.end(), [](const ImpossibleFigure& f) {
    return f.figure == "speedup" || f.figure == "efficiency";
  });
}

/// The note cell of a summary row: impossible figures with their likely cause, noisy,
/// disturbed and failed trials, a baseline other than serial.
inline std::string note(const SummaryRow& row) {
  std::vector<std::string> parts;
  if (row.is_impossible()) parts.push_back("impossible: " + impossible_text(row));
  if (row.noisy) parts.push_back("noisy: " + row.noise_reason);
  if (const std::string d = disturbed_note(row); !d.empty()) parts.push_back(d);
  if (row.failed > 0) parts.push_back(fmt::format("{} failed", row.failed));
  if (!row.baseline.empty() && row.baseline != "serial" && row.speedup) {
    parts.push_back("against " + row.baseline);
  }
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) out += "; ";
    out += part;
  }
  return out;
}

/// The line under a workload's heading: what its baseline kept busy, naming the baseline when
/// it is not a serial run, and the tasks per trial.
inline std::string profile_line(const WorkloadProfile& profile) {
  const std::string which =
      profile.baseline_model == "serial"
          ? std::string()
          : fmt::format(" ({} at {}: no serial run)", profile.baseline_model,
                        profile.baseline_workers == 1
                            ? std::string("1 worker")
                            : fmt::format("{} workers", profile.baseline_workers));
  return fmt::format("Baseline CPU use {:.2f} cores per wall second{}; {} tasks per trial.",
                     profile.serial_cpu_util, which, profile.tasks);
}

/// The workloads in the analysis's order, then any that only the rows name.
/// A workload at one point of a scan: what a report gives a section and a console table.
struct Case {
  std::string workload;
  nlohmann::json point = nlohmann::json::object();
  friend bool operator==(const Case&, const Case&) = default;
  /// "io", or "io at io-wait=10ms tasks=100".
  std::string title() const {
    const std::string at = point_text(point);
    return at.empty() ? workload : fmt::format("{} at {}", workload, at);
  }
};

/// The cases of an analysis: its profiles' order, then any only the rows name.
inline std::vector<Case> case_order(const Analysis& analysis) {
  std::vector<Case> order;
  for (const auto& profile : analysis.workloads) order.push_back({profile.workload, profile.point});
  for (const auto& row : analysis.rows) {
    const Case c{row.workload, row.point};
    if (std::find(order.begin(), order.end(), c) == order.end()) order.push_back(c);
  }
  return order;
}

}  // namespace scalelab::detail
