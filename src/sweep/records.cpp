// The streamed record: results.jsonl, one JSON object a line, written as each trial ends.

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
    throw Error(fmt::format("cannot write '{}': {}", path.string(), std::strerror(errno)));
  }
}

void RecordWriter::record(const std::string& type, const nlohmann::json& fields) {
  nlohmann::json json{{"type", type}};
  json.update(fields);
  line(json);
}

void RecordWriter::header(const RunHeader& header) {
  line(to_json(header));
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

}  // namespace scalelab
