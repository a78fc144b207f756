#pragma once
/// \file records.hpp
/// Results on disk: the environment, the streamed JSON Lines record, and the final files.

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scalelab/trial.hpp"

namespace scalelab {

/// scalelab's version, e.g. "0.1.0".
const char* version();

/// Facts about the machine and the build: CPU model, logical/physical cores, governor, load
/// average, kernel, compiler, build type, scalelab version.
nlohmann::json collect_environment();

/// Appends records to `results.jsonl`, one JSON object a line, flushed as each is written, so a
/// run that is killed keeps every finished trial. Not thread-safe.
class RecordWriter {
 public:
  /// Creates (truncates) `path`; throws Error if it cannot.
  explicit RecordWriter(const std::filesystem::path& path);
  /// Writes the first line: {"type":"header", "spec":…, "environment":…, …}.
  void header(const nlohmann::json& spec, const nlohmann::json& environment,
              const nlohmann::json& extra);
  /// Writes one {"type":"trial", …} line and flushes it.
  void trial(const Trial& trial);

 private:
  void line(const nlohmann::json& json);
  struct Closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, Closer> file_;
  std::filesystem::path path_;
};

/// The per-trial CSV header and rows (one row per trial).
void write_trials_csv(const std::filesystem::path& path, const std::vector<Trial>& trials);

/// Writes `json` to `path` (pretty-printed); throws Error if it cannot.
void write_json_file(const std::filesystem::path& path, const nlohmann::json& json);

}  // namespace scalelab
