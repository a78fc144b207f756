// The final files: results.csv and results.json, each written whole and renamed into place.

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

namespace scalelab {

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
  std::set<std::string> counter_names, point_names;
  for (const auto& t : trials) {
    for (const auto& [name, value] : t.counters) counter_names.insert(name);
    for (const auto& [name, value] : t.point.items()) {
      // A scanned task count is the tasks column already.
      if (name != "tasks") point_names.insert(name);
    }
  }
  std::string text =
      "workload,model,workers,repeat,tasks,tasks_done,wall_s,startup_s,user_s,sys_s,"
      "cpu_window_s,cpu_util,voluntary_ctx,involuntary_ctx,max_rss_kib,max_in_flight,"
      "checksum_ok,error,attempt,disturbed,run_delay_s,steal_s";
  // Then the point's values (a granularity sweep's task_s), then the model counters.
  for (const auto& name : point_names) {
    text += ',';  // two appends: g++ 12 warns falsely (-Wrestrict) on "," + std::string
    text += csv_field(name);
  }
  for (const auto& name : counter_names) {
    text += ',';
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
    for (const auto& name : point_names) {
      const auto it = t.point.find(name);
      text += ',';
      if (it != t.point.end()) {
        text += it->is_string()   ? csv_field(it->get<std::string>())
                : it->is_number() ? fmt::format("{:.9g}", it->get<double>())
                                  : csv_field(it->dump());
      }
    }
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
