#pragma once
/// \file records.hpp
/// Results on disk: the environment, the streamed JSON Lines record, and the final files.

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "scalelab/trial.hpp"

namespace scalelab {

/// scalelab's version, e.g. "0.1.0".
const char* version();

/// The cores this process may run on (taskset and cpusets respected), at least 1: they bound
/// CPU scaling.
int usable_cores();

/// Load per core above which the machine counts as busy at the start of a run.
inline constexpr double kBusyLoadPerCore = 0.5;

/// Facts about the machine and the build: CPU model and frequency, logical/physical/usable
/// cores, governor, load average and a 200 ms sample of how busy the CPUs are, whether the
/// machine was busy, kernel, compiler, build type, scalelab version, and "warnings".
nlohmann::json collect_environment();

/// Warnings (not failures) about an environment: a frequency governor other than
/// `performance`, a load above kBusyLoadPerCore per core, CPUs busy with other work.
std::vector<std::string> environment_warnings(const nlohmann::json& environment);

/// The first line of a results.jsonl: what was run, on what, and how many trials the plan
/// held. Its JSON format lives here and only here (to_json and run_header_from_json).
struct RunHeader {
  /// What wrote the records: "sweep" (`scalelab run`) or "granularity". Records from before
  /// kinds existed are sweeps.
  std::string kind = "sweep";
  nlohmann::json spec = nlohmann::json::object();  ///< to_json(Spec), or of GranularityOptions
  nlohmann::json environment = nlohmann::json::object();  ///< collect_environment()
  /// How task sizes were measured: {workload: {target_s, iters_per_s, iters, measured_s}}.
  nlohmann::json calibration = nlohmann::json::object();
  /// The resolved workloads the plan was made from (to_json(WorkloadSpec) each), so that a
  /// resumed run measures the same work.
  nlohmann::json workload_specs = nlohmann::json::array();
  std::optional<std::size_t> planned_trials;  ///< counted trials of the whole plan
  std::size_t warmup_trials = 0;              ///< uncounted warm-ups in the plan
};

/// The header line as written: {"type": "header", "kind", "spec", …}.
nlohmann::json to_json(const RunHeader& header);

/// The header of a record line; throws Error when it is not a header or has no spec. Fields
/// that records of older versions lack keep their defaults.
RunHeader run_header_from_json(const nlohmann::json& json);

/// Appends records to `results.jsonl`, one JSON object a line, flushed as each is written, so a
/// run that is killed keeps every finished trial. Not thread-safe.
class RecordWriter {
 public:
  /// Creates (truncates) `path`; throws Error if it cannot.
  explicit RecordWriter(const std::filesystem::path& path);
  /// How to open an existing record.
  enum class Mode { create, append };
  /// With Mode::append, continues `path` (for --resume): a torn last line — one without its
  /// newline — is cut off first, so the next record starts on a line of its own.
  RecordWriter(const std::filesystem::path& path, Mode mode);
  /// Writes the first line: the header.
  void header(const RunHeader& header);
  /// Writes one {"type":"trial", …} line and flushes it.
  void trial(const Trial& trial);
  /// Writes one {"type": type, …fields} line (e.g. "resume", "end") and flushes it.
  void record(const std::string& type, const nlohmann::json& fields);

 private:
  void line(const nlohmann::json& json);
  struct Closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, Closer> file_;
  std::filesystem::path path_;
};

/// A run read back from its records.
struct RecordedRun {
  RunHeader header;                   ///< the header line: spec, environment, calibration, …
  std::vector<Trial> trials;          ///< counted trials, every attempt, in the order they ran
  std::vector<std::string> warnings;  ///< lines skipped (torn last line, unreadable), one each
  bool interrupted = false;  ///< fewer trials than the header planned, or marked interrupted
};

/// What every report of a recorded run says besides its figures.
struct RecordFacts {
  nlohmann::json spec;                ///< the record header's spec
  nlohmann::json environment;         ///< the record header's environment
  std::vector<std::string> warnings;  ///< environment and record warnings, one sentence each
  bool interrupted = false;           ///< the run was stopped before its plan finished
  std::size_t planned_trials = 0;     ///< counted trials the plan had
  std::size_t recorded_trials = 0;    ///< planned trials on record (planned_on_record)
};

/// The facts of `run`: its header's spec and environment, the environment's warnings then
/// the records', and how many of its planned trials are on record.
RecordFacts record_facts(const RecordedRun& run);

/// How many planned trials `trials` hold: each (workload, point, model, workers, repeat) once,
/// however many attempts (reruns of a disturbed trial) it has on record.
std::size_t planned_on_record(const std::vector<Trial>& trials);

/// Parses the text of a results.jsonl (a header line, then one trial a line). A torn or
/// unreadable line is skipped with a warning; `source` names the file in messages. Throws Error
/// when there is no header line.
RecordedRun parse_records(std::string_view text, const std::string& source);

/// Reads a results folder or a results.jsonl file; throws Error when it cannot.
RecordedRun read_records(const std::filesystem::path& path);

/// The trial of one record line; throws Error naming the field that is missing or wrong.
Trial trial_from_json(const nlohmann::json& json);

/// The per-trial CSV header and rows (one row per trial), written atomically; throws
/// std::runtime_error if it cannot.
void write_trials_csv(const std::filesystem::path& path, const std::vector<Trial>& trials);

/// Writes `text` to `path` through a temporary file renamed over it, so that a reader (or a
/// crash) never sees half a file; throws std::runtime_error if it cannot.
void write_file_atomically(const std::filesystem::path& path, const std::string& text);

/// Writes `json` to `path` (pretty-printed, atomically); throws std::runtime_error if it cannot.
void write_json_file(const std::filesystem::path& path, const nlohmann::json& json);

}  // namespace scalelab
