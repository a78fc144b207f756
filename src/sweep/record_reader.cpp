// Reading results.jsonl back: the header, the trials, resume and end lines, damage tolerated.

#include "scalelab/records.hpp"

#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <limits>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>
#include <type_traits>

#include <fmt/format.h>

#include "scalelab/error.hpp"
#include "scalelab/workload.hpp"
#include "support/json_field.hpp"

namespace scalelab {
namespace {

// A field of a record line, checked: a wrong type names the field rather than leaking
// nlohmann's own message (the file may come from anywhere).
template <typename T>
T field(const nlohmann::json& json, const char* name, const T& fallback, bool required) {
  const auto it = json.find(name);
  if (it == json.end() || it->is_null()) {
    if (required) throw Error(fmt::format("field '{}' is missing", name));
    return fallback;
  }
  try {
    if constexpr (std::is_same_v<T, std::string>) {
      if (!it->is_string()) throw Error("");
    } else if constexpr (std::is_same_v<T, bool>) {
      if (!it->is_boolean()) throw Error("");
    } else if constexpr (std::is_arithmetic_v<T>) {
      if (!it->is_number()) throw Error("");
      if constexpr (std::is_integral_v<T>) {
        // get<int> of 1e300 or of -1 for an unsigned field would wrap: check the range. The
        // upper bound is 2^digits, exclusive: max() rounded to a double is 2^digits itself
        // for 64-bit types, and converting that overflows.
        const double value = it->get<double>();
        if (!(value >= static_cast<double>(std::numeric_limits<T>::lowest()) &&
              value < std::ldexp(1.0, std::numeric_limits<T>::digits))) {
          throw Error("");
        }
      } else if (!std::isfinite(it->get<double>())) {
        throw Error("");
      }
    }
    return it->get<T>();
  } catch (const std::exception&) {
    throw Error(fmt::format("field '{}' has the wrong type or range", name));
  }
}

std::vector<double> number_list(const nlohmann::json& json, const char* name) {
  std::vector<double> values;
  const auto it = json.find(name);
  if (it == json.end() || it->is_null()) return values;
  if (!it->is_array()) throw Error(fmt::format("field '{}' is not a list", name));
  for (const auto& v : *it) {
    if (!v.is_number()) throw Error(fmt::format("field '{}' holds a non-number", name));
    values.push_back(v.get<double>());
  }
  return values;
}

}  // namespace

Trial trial_from_json(const nlohmann::json& json) {
  if (!json.is_object()) throw Error("a trial record is not a JSON object");
  Trial t;
  t.workload = field<std::string>(json, "workload", "", true);
  t.model = field<std::string>(json, "model", "", true);
  t.workers = field<int>(json, "workers", 1, true);
  if (t.workers < 1) throw Error("field 'workers' is below 1");
  t.repeat = field<int>(json, "repeat", 0, true);
  t.tasks = field<std::size_t>(json, "tasks", 0, false);
  t.tasks_done = field<std::size_t>(json, "tasks_done", 0, false);
  t.wall_s = field<double>(json, "wall_s", 0, true);
  if (t.wall_s < 0) throw Error("field 'wall_s' is negative");
  t.startup_s = field<double>(json, "startup_s", 0, false);
  t.user_s = field<double>(json, "user_s", 0, false);
  t.sys_s = field<double>(json, "sys_s", 0, false);
  t.voluntary_ctx = field<std::int64_t>(json, "voluntary_ctx", 0, false);
  t.involuntary_ctx = field<std::int64_t>(json, "involuntary_ctx", 0, false);
  t.max_rss_kib = field<std::int64_t>(json, "max_rss_kib", 0, false);
  t.max_in_flight = field<int>(json, "max_in_flight", 0, false);
  t.checksum_ok = field<bool>(json, "checksum_ok", false, false);
  t.error = field<std::string>(json, "error", "", false);
  t.hung = field<bool>(json, "hung", false, false);
  if (const auto it = json.find("counters"); it != json.end() && !it->is_null()) {
    if (!it->is_object()) throw Error("field 'counters' is not an object");
    for (const auto& [name, value] : it->items()) {
      if (!value.is_number() || !std::isfinite(value.get<double>())) {
        throw Error(fmt::format("counter '{}' is not a number", name));
      }
      t.counters[name] = value.get<double>();
    }
  }
  t.task_start_s = number_list(json, "task_start_s");
  t.task_end_s = number_list(json, "task_end_s");
  if (const auto it = json.find("task_duration"); it != json.end()) {
    t.task_duration = LatencyHistogram::from_json(*it, "task_duration");
  } else {
    t.task_duration = durations(t.task_start_s, t.task_end_s);  // a record from before issue 14
  }
  if (const auto it = json.find("start_delay"); it != json.end()) {
    t.start_delay = LatencyHistogram::from_json(*it, "start_delay");
  } else {
    auto starts = t.task_start_s, ends = t.task_end_s;
    std::sort(starts.begin(), starts.end());
    std::sort(ends.begin(), ends.end());
    t.start_delay = start_delays(starts, ends, t.workers);
  }
  t.cpu_window_s = field<double>(json, "cpu_window_s", 0, false);
  if (t.cpu_window_s < 0) throw Error("field 'cpu_window_s' is negative");
  t.run_delay_s = field<double>(json, "run_delay_s", 0, false);
  t.steal_s = field<double>(json, "steal_s", 0, false);
  if (t.run_delay_s < 0 || t.steal_s < 0)
    throw Error("field 'run_delay_s' or 'steal_s' is negative");
  t.disturbed = field<bool>(json, "disturbed", false, false);
  t.attempt = field<int>(json, "attempt", 0, false);
  if (t.attempt < 0) throw Error("field 'attempt' is negative");
  if (const auto it = json.find("point"); it != json.end() && !it->is_null()) {
    if (!it->is_object()) throw Error("field 'point' is not an object");
    t.point = *it;
  }
  return t;
}

nlohmann::json to_json(const RunHeader& header) {
  nlohmann::json json{{"type", "header"},
                      {"kind", header.kind},
                      {"spec", header.spec},
                      {"environment", header.environment},
                      {"calibration", header.calibration},
                      {"workload_specs", header.workload_specs},
                      {"warmup_trials", header.warmup_trials}};
  if (header.planned_trials) json["planned_trials"] = *header.planned_trials;
  return json;
}

RunHeader run_header_from_json(const nlohmann::json& json) {
  if (!json.is_object() || json.value("type", nlohmann::json()) != "header") {
    throw Error("not a scalelab header");
  }
  RunHeader header;
  // A section of the wrong shape is left at its default, as a missing one is.
  const auto take = [&](const char* key, nlohmann::json& into) {
    const auto it = json.find(key);
    if (it != json.end() && it->type() == into.type()) into = *it;
  };
  if (!json.contains("spec") || !json["spec"].is_object()) throw Error("the header has no spec");
  take("spec", header.spec);
  take("environment", header.environment);
  take("calibration", header.calibration);
  take("workload_specs", header.workload_specs);
  if (const auto it = json.find("kind"); it != json.end()) {
    if (!it->is_string()) throw Error("the header's 'kind' is not a name");
    header.kind = it->get<std::string>();
  }
  if (const auto it = json.find("planned_trials"); it != json.end() && it->is_number_unsigned()) {
    header.planned_trials = it->get<std::size_t>();
  }
  if (const auto it = json.find("warmup_trials"); it != json.end() && it->is_number_unsigned()) {
    header.warmup_trials = it->get<std::size_t>();
  }
  return header;
}

RecordFacts record_facts(const RecordedRun& run) {
  RecordFacts facts;
  facts.spec = run.header.spec;
  facts.environment = run.header.environment;
  facts.warnings = environment_warnings(facts.environment);
  for (const auto& w : run.warnings) facts.warnings.push_back(w);
  facts.interrupted = run.interrupted;
  facts.recorded_trials = planned_on_record(run.trials);
  facts.planned_trials = run.header.planned_trials.value_or(facts.recorded_trials);
  return facts;
}

std::size_t planned_on_record(const std::vector<Trial>& trials) {
  std::set<std::tuple<std::string, std::string, std::string, int, int>> planned;
  for (const auto& t : trials) {
    if (!t.warmup()) planned.insert({t.workload, t.point.dump(), t.model, t.workers, t.repeat});
  }
  return planned.size();
}

namespace {

// A record after the header, into `run`; `where` ("results.jsonl: line 7") names it in a
// warning when it is skipped.
void take_record(RecordedRun& run, const nlohmann::json& json, const std::string& type,
                 const std::string& where) {
  if (type == "trial") {
    try {
      Trial trial = trial_from_json(json);
      if (!trial.warmup()) run.trials.push_back(std::move(trial));
    } catch (const Error& e) {
      run.warnings.push_back(fmt::format("{}: {}; skipped", where, e.what()));
    }
  } else if (type == "end") {
    // The last end record speaks for the run: a resumed run that completed ends with
    // "interrupted": false after the first attempt's true.
    const auto it = json.find("interrupted");
    run.interrupted = it != json.end() && it->is_boolean() && it->get<bool>();
  } else if (type == "resume") {
    run.interrupted = false;
  } else {
    run.warnings.push_back(fmt::format("{} is not a record scalelab knows; skipped", where));
  }
}

}  // namespace

RecordedRun parse_records(std::string_view text, const std::string& source) {
  RecordedRun run;
  bool have_header = false;
  std::size_t number = 0;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    const bool last_without_newline = newline == std::string_view::npos;
    const std::string_view line = text.substr(0, newline);
    text.remove_prefix(last_without_newline ? text.size() : newline + 1);
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    nlohmann::json json;
    try {
      json = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      // Every line is written with its newline in one write: a last line without one was cut
      // off mid-write (a power cut, a full disk). Anything else is damage from elsewhere.
      run.warnings.push_back(
          last_without_newline
              ? fmt::format("{}: line {} is torn (the run was cut off while writing it); skipped",
                            source, number)
              : fmt::format("{}: line {} is not valid JSON; skipped", source, number));
      continue;
    }
    const std::string type =
        json.is_object() && json.contains("type") && json["type"].is_string() ? json["type"] : "";
    if (number == 1 || !have_header) {
      if (type != "header") {
        throw Error(fmt::format("{}: line {} is not a scalelab header; is this a results.jsonl?",
                                source, number));
      }
      try {
        run.header = run_header_from_json(json);
      } catch (const Error& e) {
        throw Error(fmt::format("{}: {}", source, e.what()));
      }
      have_header = true;
      continue;
    }
    take_record(run, json, type, fmt::format("{}: line {}", source, number));
  }
  if (!have_header) throw Error(fmt::format("{}: empty; no scalelab header line", source));
  // Fewer trials than planned is an interrupted run, whatever its last record says (a run
  // killed outright writes no end record at all).
  if (run.header.planned_trials && planned_on_record(run.trials) < *run.header.planned_trials) {
    run.interrupted = true;
  }
  return run;
}

RecordedRun read_records(const std::filesystem::path& path) {
  std::error_code ec;
  const std::filesystem::path file =
      std::filesystem::is_directory(path, ec) ? path / "results.jsonl" : path;
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw Error(
        fmt::format("cannot read '{}': {}", file.string(),
                    std::filesystem::exists(file, ec) ? std::strerror(errno) : "no such file"));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_records(text.str(), file.string());
}

}  // namespace scalelab
