// Records on disk and the environment they are measured in.

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
#include <type_traits>

#include <fmt/format.h>

#include "scalelab/error.hpp"
#include "scalelab/workload.hpp"
#include "support/json_field.hpp"

#ifndef SCALELAB_VERSION
#define SCALELAB_VERSION "0.0.0"
#endif
#ifndef SCALELAB_BUILD_TYPE
#define SCALELAB_BUILD_TYPE "unknown"
#endif
#ifndef SCALELAB_CXX_FLAGS
#define SCALELAB_CXX_FLAGS ""
#endif

namespace scalelab {
namespace {

std::string read_first_line(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string compiler() {
#if defined(__clang__)
  return fmt::format("clang {}", __clang_version__);
#elif defined(__GNUC__)
  return fmt::format("g++ {}", __VERSION__);
#else
  return "unknown";
#endif
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// Share of all cores' time spent not idle over `window`, from /proc/stat: what else is running
// right now (the load average lags by a minute). 0 where /proc/stat cannot be read.
double busy_share(std::chrono::milliseconds window) {
  const auto sample = [] {
    std::ifstream in("/proc/stat");
    std::string cpu;
    std::uint64_t value = 0, total = 0, idle = 0;
    in >> cpu;
    for (int i = 0; i < 8 && in >> value; ++i) {
      total += value;
      if (i == 3 || i == 4) idle += value;  // idle and iowait
    }
    return std::pair{total, idle};
  };
  const auto [total0, idle0] = sample();
  std::this_thread::sleep_for(window);
  const auto [total1, idle1] = sample();
  if (total1 <= total0) return 0;
  const double idle = static_cast<double>(idle1 - idle0) / static_cast<double>(total1 - total0);
  return std::clamp(1 - idle, 0.0, 1.0);
}

double read_cpu_mhz(const std::string& cpuinfo_mhz) {
  // The current frequency of cpu0 as cpufreq reports it (kHz), else /proc/cpuinfo's "cpu MHz".
  const std::string khz = read_first_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq");
  try {
    if (!khz.empty()) return std::stod(khz) / 1000;
    if (!cpuinfo_mhz.empty()) return std::stod(cpuinfo_mhz);
  } catch (const std::exception&) {
  }
  return 0;
}

}  // namespace

int usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
}

const char* version() {
  return SCALELAB_VERSION;
}

nlohmann::json collect_environment() {
  std::string cpu_model = "unknown", mhz_text;
  std::set<std::pair<std::string, std::string>> cores;  // (physical id, core id)
  {
    std::ifstream in("/proc/cpuinfo");
    std::string line, physical;
    while (std::getline(in, line)) {
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
      std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
      if (key == "model name" && cpu_model == "unknown") cpu_model = value;
      if (key == "cpu MHz" && mhz_text.empty()) mhz_text = value;
      if (key == "physical id") physical = value;
      if (key == "core id") cores.insert({physical, value});
    }
  }
  const double cpu_mhz = read_cpu_mhz(mhz_text);
  const long logical = ::sysconf(_SC_NPROCESSORS_ONLN);
  const long usable = usable_cores();
  utsname uts{};
  ::uname(&uts);
  double load[3] = {0, 0, 0};
  ::getloadavg(load, 3);
  std::string governor = read_first_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor");
  const double busy = busy_share(std::chrono::milliseconds(200));
  const double load_per_core = logical > 0 ? load[0] / static_cast<double>(logical) : 0;
  nlohmann::json environment = {
      {"cpu_model", cpu_model},
      {"logical_cores", logical},
      {"physical_cores", cores.empty() ? logical : static_cast<long>(cores.size())},
      {"usable_cores", usable},  // what this process may run on: taskset, cpusets
      {"governor", governor.empty() ? "unknown" : governor},
      {"load_avg_1m", load[0]},
      {"kernel", fmt::format("{} {}", uts.sysname, uts.release)},
      {"hostname", uts.nodename},
      {"compiler", compiler()},
      {"build_type", SCALELAB_BUILD_TYPE},
      {"cxx_flags", SCALELAB_CXX_FLAGS},
      {"scalelab_version", version()},
      {"runtimes", workload_runtimes()},
      {"started_utc", utc_now()},
      {"cpu_mhz", cpu_mhz},
      {"load_per_core", load_per_core},
      {"cpu_busy_at_start", busy},
      {"busy", load_per_core > kBusyLoadPerCore || busy > kBusyLoadPerCore},
  };
  environment["warnings"] = environment_warnings(environment);
  return environment;
}

std::vector<std::string> environment_warnings(const nlohmann::json& environment) {
  std::vector<std::string> warnings;
  const auto text = [&](const char* key) { return detail::field_string(environment, key); };
  const auto number = [&](const char* key) { return detail::field_number(environment, key); };
  const std::string governor = text("governor");
  if (governor == "unknown") {
    warnings.push_back(
        "the CPU frequency governor is unknown (no cpufreq here, as in most VMs): the clock "
        "speed is not known to be fixed, so timings may drift");
  } else if (governor != "performance") {
    warnings.push_back(fmt::format(
        "the CPU frequency governor is '{}', not 'performance': the clock speed changes with "
        "load, so timings vary (cpupower frequency-set -g performance fixes it)",
        governor));
  }
  const double load_per_core = number("load_per_core");
  if (load_per_core > kBusyLoadPerCore) {
    warnings.push_back(fmt::format(
        "the machine was busy at the start: load average {:.2f} over {} logical cores ({:.2f} "
        "per core, above {}); other work competes with the trials",
        number("load_avg_1m"), static_cast<long>(number("logical_cores")), load_per_core,
        kBusyLoadPerCore));
  }
  const double busy = number("cpu_busy_at_start");
  if (busy > kBusyLoadPerCore) {
    warnings.push_back(
        fmt::format("{:.0f} % of the CPU time was busy with other work just before the run started",
                    busy * 100));
  }
  return warnings;
}

RecordWriter::RecordWriter(const std::filesystem::path& path) : RecordWriter(path, Mode::create) {}

RecordWriter::RecordWriter(const std::filesystem::path& path, Mode mode) : path_(path) {
  if (mode == Mode::append) {
    // Cut a torn last line (no newline: the writer died mid-line) before appending to it.
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (!ec && size > 0) {
      std::ifstream in(path, std::ios::binary);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const auto last = text.find_last_of('\n');
      const std::uintmax_t keep = last == std::string::npos ? 0 : last + 1;
      if (keep != size) std::filesystem::resize_file(path, keep, ec);
      if (ec) {
        throw std::runtime_error(
            fmt::format("cannot cut the torn last line of '{}': {}", path.string(), ec.message()));
      }
    }
  }
  file_.reset(std::fopen(path.c_str(), mode == Mode::append ? "ae" : "we"));  // e: not inherited
  if (!file_) {
    throw Error(fmt::format("--out: cannot write '{}': {}", path.string(), std::strerror(errno)));
  }
}

void RecordWriter::record(const std::string& type, const nlohmann::json& fields) {
  nlohmann::json json{{"type", type}};
  json.update(fields);
  line(json);
}

void RecordWriter::header(const nlohmann::json& spec, const nlohmann::json& environment,
                          const nlohmann::json& extra) {
  nlohmann::json json{{"type", "header"}, {"spec", spec}, {"environment", environment}};
  json.update(extra);
  line(json);
}

void RecordWriter::trial(const Trial& trial) {
  nlohmann::json json{{"type", "trial"}};
  json.update(to_json(trial));
  line(json);
}

void RecordWriter::line(const nlohmann::json& json) {
  const std::string text =
      json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  // One write per line and a flush after it: a killed run leaves whole lines behind.
  if (std::fwrite(text.data(), 1, text.size(), file_.get()) != text.size() ||
      std::fflush(file_.get()) != 0) {
    // Not an Error (exit 2): the input was fine, the run failed.
    throw std::runtime_error(
        fmt::format("cannot write '{}': {}", path_.string(), std::strerror(errno)));
  }
}

namespace {

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace

void write_trials_csv(const std::filesystem::path& path, const std::vector<Trial>& trials) {
  // Model counters become columns of their own, named as in JSON; empty where a model has none.
  std::set<std::string> counter_names;
  for (const auto& t : trials) {
    for (const auto& [name, value] : t.counters) counter_names.insert(name);
  }
  std::string text =
      "workload,model,workers,repeat,tasks,tasks_done,wall_s,startup_s,user_s,sys_s,"
      "cpu_window_s,cpu_util,voluntary_ctx,involuntary_ctx,max_rss_kib,max_in_flight,"
      "checksum_ok,error,attempt,disturbed,run_delay_s,steal_s";
  for (const auto& name : counter_names) {
    text += ',';  // two appends: g++ 12 warns falsely (-Wrestrict) on "," + std::string
    text += csv_field(name);
  }
  text += "\n";
  for (const auto& t : trials) {
    text +=
        fmt::format("{},{},{},{},{},{},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.6g},{},{},{},{},{},{}",
                    csv_field(t.workload), csv_field(t.model), t.workers, t.repeat, t.tasks,
                    t.tasks_done, t.wall_s, t.startup_s, t.user_s, t.sys_s, t.cpu_window_s,
                    t.cpu_util(), t.voluntary_ctx, t.involuntary_ctx, t.max_rss_kib,
                    t.max_in_flight, t.checksum_ok ? "true" : "false", csv_field(t.error));
    // Every attempt of a planned trial is a row; attempt and disturbed tell them apart.
    text += fmt::format(",{},{},{:.9g},{:.9g}", t.attempt, t.disturbed ? "true" : "false",
                        t.run_delay_s, t.steal_s);
    for (const auto& name : counter_names) {
      const auto it = t.counters.find(name);
      text += it == t.counters.end() ? "," : fmt::format(",{:.9g}", it->second);
    }
    text += "\n";
  }
  write_file_atomically(path, text);
}

void write_file_atomically(const std::filesystem::path& path, const std::string& text) {
  // Written beside the target and renamed over it: a reader (or a crash) never sees half a file.
  std::filesystem::path temporary = path;
  temporary += ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      std::error_code ec;
      std::filesystem::remove(temporary, ec);
      throw std::runtime_error(fmt::format("cannot write '{}'", temporary.string()));
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::error_code ec;
    std::filesystem::remove(temporary, ec);
    throw std::runtime_error(fmt::format("cannot rename '{}' to '{}': {}", temporary.string(),
                                         path.string(), std::strerror(errno)));
  }
}

void write_json_file(const std::filesystem::path& path, const nlohmann::json& json) {
  write_file_atomically(path,
                        json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

}  // namespace scalelab

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
  t.cpu_window_s = field<double>(json, "cpu_window_s", 0, false);
  if (t.cpu_window_s < 0) throw Error("field 'cpu_window_s' is negative");
  t.run_delay_s = field<double>(json, "run_delay_s", 0, false);
  t.steal_s = field<double>(json, "steal_s", 0, false);
  if (t.run_delay_s < 0 || t.steal_s < 0)
    throw Error("field 'run_delay_s' or 'steal_s' is negative");
  t.disturbed = field<bool>(json, "disturbed", false, false);
  t.attempt = field<int>(json, "attempt", 0, false);
  if (t.attempt < 0) throw Error("field 'attempt' is negative");
  return t;
}

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
      if (!json.contains("spec") || !json["spec"].is_object()) {
        throw Error(fmt::format("{}: the header has no spec", source));
      }
      run.header = std::move(json);
      have_header = true;
      continue;
    }
    if (type == "trial") {
      try {
        Trial trial = trial_from_json(json);
        if (!trial.warmup()) run.trials.push_back(std::move(trial));
      } catch (const Error& e) {
        run.warnings.push_back(fmt::format("{}: line {}: {}; skipped", source, number, e.what()));
      }
    } else if (type == "end") {
      // The last end record speaks for the run: a resumed run that completed ends with
      // "interrupted": false after the first attempt's true.
      const auto it = json.find("interrupted");
      run.interrupted = it != json.end() && it->is_boolean() && it->get<bool>();
    } else if (type == "resume") {
      run.interrupted = false;
    } else {
      run.warnings.push_back(
          fmt::format("{}: line {} is not a record scalelab knows; skipped", source, number));
    }
  }
  if (!have_header) throw Error(fmt::format("{}: empty; no scalelab header line", source));
  // Fewer trials than planned is an interrupted run, whatever its last record says (a run
  // killed outright writes no end record at all).
  const auto planned = run.header.find("planned_trials");
  if (planned != run.header.end() && planned->is_number_unsigned() &&
      run.trials.size() < planned->get<std::size_t>()) {
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
