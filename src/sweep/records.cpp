// Records on disk and the environment they are measured in.

#include "scalelab/records.hpp"

#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "scalelab/error.hpp"

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

}  // namespace

const char* version() {
  return SCALELAB_VERSION;
}

nlohmann::json collect_environment() {
  std::string cpu_model = "unknown";
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
      if (key == "physical id") physical = value;
      if (key == "core id") cores.insert({physical, value});
    }
  }
  const long logical = ::sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t affinity;
  CPU_ZERO(&affinity);
  const long usable =
      ::sched_getaffinity(0, sizeof affinity, &affinity) == 0 ? CPU_COUNT(&affinity) : logical;
  utsname uts{};
  ::uname(&uts);
  double load[3] = {0, 0, 0};
  ::getloadavg(load, 3);
  std::string governor = read_first_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor");
  return {
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
      {"started_utc", utc_now()},
  };
}

RecordWriter::RecordWriter(const std::filesystem::path& path)
    : file_(std::fopen(path.c_str(), "we")), path_(path) {  // e: not inherited by workers
  if (!file_) {
    throw Error(fmt::format("--out: cannot write '{}': {}", path.string(), std::strerror(errno)));
  }
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

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) throw Error(fmt::format("cannot write '{}'", path.string()));
}

}  // namespace

void write_trials_csv(const std::filesystem::path& path, const std::vector<Trial>& trials) {
  // Model counters become columns of their own, named as in JSON; empty where a model has none.
  std::set<std::string> counter_names;
  for (const auto& t : trials) {
    for (const auto& [name, value] : t.counters) counter_names.insert(name);
  }
  std::string text =
      "workload,model,workers,repeat,tasks,tasks_done,wall_s,startup_s,user_s,sys_s,cpu_util,"
      "voluntary_ctx,involuntary_ctx,max_rss_kib,max_in_flight,checksum_ok,error";
  for (const auto& name : counter_names) {
    text += ',';  // two appends: g++ 12 warns falsely (-Wrestrict) on "," + std::string
    text += csv_field(name);
  }
  text += "\n";
  for (const auto& t : trials) {
    text += fmt::format("{},{},{},{},{},{},{:.9g},{:.9g},{:.9g},{:.9g},{:.6g},{},{},{},{},{},{}",
                        csv_field(t.workload), csv_field(t.model), t.workers, t.repeat, t.tasks,
                        t.tasks_done, t.wall_s, t.startup_s, t.user_s, t.sys_s, t.cpu_util(),
                        t.voluntary_ctx, t.involuntary_ctx, t.max_rss_kib, t.max_in_flight,
                        t.checksum_ok ? "true" : "false", csv_field(t.error));
    for (const auto& name : counter_names) {
      const auto it = t.counters.find(name);
      text += it == t.counters.end() ? "," : fmt::format(",{:.9g}", it->second);
    }
    text += "\n";
  }
  write_file(path, text);
}

void write_json_file(const std::filesystem::path& path, const nlohmann::json& json) {
  write_file(path, json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

}  // namespace scalelab
