#pragma once
/// \file params.hpp
/// Parameters a model or workload takes, declared once in the plug-in's own file. From the
/// declaration come the command-line flag and its help line, parsing with a one-line error,
/// the value's JSON field in the spec and the record header, reading it back for --resume, and
/// the report's line for it.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace scalelab {

/// What a parameter's value is: how it is typed, checked, recorded and shown.
enum class ParamKind {
  count,     ///< a whole number: "64"; recorded as an integer
  duration,  ///< "20ms", "1.5s", "250us"; recorded in seconds under NAME_s
  fraction,  ///< a number from 0 to 1: "0.25"
  bytes,     ///< "4096", "64KiB", "1MiB", "1MB"; recorded as an integer number of bytes
  choice,    ///< one name of a set: "fork"; recorded as the name
  text,      ///< any string without control characters: "module:function"
  /// CPU work: loop iterations ("200000") or a duration ("5ms") that the workload's
  /// calibration turns into iterations at the start of a run. Recorded as {"iters": N} or
  /// {"duration_s": x}.
  work,
};

/// One parameter, as a plug-in declares it.
struct Param {
  std::string name;  ///< the flag without its dashes: "io-wait" is --io-wait
  ParamKind kind = ParamKind::count;
  std::string default_text;  ///< the default as a user would type it: "20ms"; "" for text
  std::string help;          ///< one line for --help
  /// How the report shows it. A workload's: its phrase in the task-size line, "{}" standing
  /// for the value ("I/O wait {} per task"). A model's: the label of its own line ("Start
  /// method"). Empty: not shown.
  std::string report{};
  double min = 0;  ///< lowest allowed value: count, bytes; duration in seconds; work iterations
  double max = 0;  ///< highest allowed value; 0: the kind's own limit
  std::vector<std::string> choices{};  ///< choice: the allowed names, the default first
  /// duration: 0 is allowed as well as the range (a wait of none).
  bool allow_zero = false;

  /// "--io-wait".
  std::string flag() const { return "--" + name; }
  /// The field that holds the value in a spec or record: "io_wait_s", "cpu_fraction".
  std::string key() const;
  /// The value parsed from what a user typed; throws Error naming the flag and what is allowed.
  nlohmann::json parse(std::string_view text) const;
  /// parse(default_text): the value when the flag is not given.
  nlohmann::json default_value() const;
  /// A recorded value checked against the declaration (for --resume and experiment files);
  /// throws Error naming `where` ("the recorded spec") and the field.
  nlohmann::json check(const nlohmann::json& value, std::string_view where) const;
  /// The value as a person writes it: "20ms", "200000 iterations", "0.5", "64 KiB", "fork"; a
  /// scan's list of values joined: "1ms, 10ms".
  std::string text(const nlohmann::json& value) const;
  /// The report's phrase with the value in it, or "" when it has none.
  std::string report_text(const nlohmann::json& value) const;
};

/// How much CPU work a task does: a fixed iteration count, or a duration that a calibration
/// at the start of the run turns into iterations.
struct CpuWork {
  std::uint64_t iters = 0;               ///< used when non-zero
  std::chrono::nanoseconds duration{0};  ///< used when iters is zero
};

/// Parameter values by field (Param::key), as recorded: what a plug-in reads. Reading a field
/// that is missing gives the fallback; one of the wrong type throws Error naming it.
class ParamValues {
 public:
  ParamValues() = default;
  ParamValues(nlohmann::json values);  // implicit: WorkloadSpec{"cpu", {{"cpu_iters", 100}}}

  bool has(const std::string& key) const;
  std::uint64_t count(const std::string& key, std::uint64_t fallback = 0) const;
  double number(const std::string& key, double fallback = 0) const;
  std::chrono::nanoseconds duration(const std::string& key,
                                    std::chrono::nanoseconds fallback = {}) const;
  std::string text(const std::string& key, const std::string& fallback = {}) const;
  CpuWork work(const std::string& key) const;

  void set(const std::string& key, nlohmann::json value);
  /// Sets a duration in seconds, as recorded.
  void set_duration(const std::string& key, std::chrono::nanoseconds value);
  const nlohmann::json& json() const { return values_; }
  friend bool operator==(const ParamValues&, const ParamValues&) = default;

 private:
  nlohmann::json values_ = nlohmann::json::object();
};

/// Parses "4096", "64KiB", "1MiB", "2GiB", "1KB" (1000), "1MB", "1GB" into bytes, in [min, max].
std::uint64_t parse_bytes(std::string_view text, std::string_view flag, std::uint64_t min,
                          std::uint64_t max);

/// "512 B", "64 KiB", "1.5 MiB".
std::string format_bytes(std::uint64_t bytes);

}  // namespace scalelab
