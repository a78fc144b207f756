// The environment a run is measured in: machine, build, load, runtimes, and warnings about it.

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

}  // namespace scalelab
