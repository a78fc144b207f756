// Declared parameters: parsing, checking a recorded value, and showing it.

#include "scalelab/params.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "scalelab/error.hpp"
#include "scalelab/parse.hpp"

namespace scalelab {
namespace {

constexpr std::int64_t kMaxIters = std::int64_t{1} << 50;
// The largest count a double bound can name exactly: 2^53. (A double of INT64_MAX rounds up
// to 2^63, which does not convert back.)
constexpr std::int64_t kMaxCount = std::int64_t{1} << 53;

double upper(const Param& p, double kind_limit) {
  return p.max > 0 ? p.max : kind_limit;
}

// A bound in double as an integer, clamped into [0, limit], so no conversion overflows.
std::int64_t whole(double bound, std::int64_t limit) {
  if (!(bound > 0)) return 0;
  return bound >= static_cast<double>(limit) ? limit : static_cast<std::int64_t>(bound);
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

bool has_unit(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; });
}

nlohmann::json parse_work(const Param& p, std::string_view text) {
  if (has_unit(text)) {
    try {
      const auto d = parse_duration(text, p.flag());
      return {{"duration_s", std::chrono::duration<double>(d).count()}};
    } catch (const Error&) {
      throw Error(
          fmt::format("{}: '{}' is neither an iteration count like 200000 nor a duration like 25ms",
                      p.flag(), shown(text)));
    }
  }
  const std::int64_t max = p.max > 0 ? whole(p.max, kMaxIters) : kMaxIters;
  return {
      {"iters", parse_count(text, p.flag(), std::max<std::int64_t>(1, whole(p.min, max)), max)}};
}

std::chrono::nanoseconds seconds_to_ns(double s) {
  return std::chrono::nanoseconds(std::llround(s * 1e9));
}

}  // namespace

std::string Param::key() const {
  std::string key = name;
  std::replace(key.begin(), key.end(), '-', '_');
  return kind == ParamKind::duration ? key + "_s" : key;
}

nlohmann::json Param::parse(std::string_view text) const {
  const std::string f = flag();
  switch (kind) {
    case ParamKind::count: {
      const std::int64_t most = max > 0 ? whole(max, kMaxCount) : kMaxCount;
      return parse_count(text, f, std::min(whole(min, most), most), most);
    }
    case ParamKind::duration: {
      const auto d = parse_duration(text, f, allow_zero);
      const double s = std::chrono::duration<double>(d).count();
      if ((s != 0 || !allow_zero) && (s < min || (max > 0 && s > max))) {
        throw Error(fmt::format("{}: {} is out of range; use {} to {}", f, format_duration(s),
                                format_duration(min), format_duration(upper(*this, 86400))));
      }
      return s;
    }
    case ParamKind::fraction:
      return parse_fraction(text, f);
    case ParamKind::bytes: {
      const std::int64_t most = max > 0 ? whole(max, kMaxCount) : kMaxCount;
      return parse_bytes(text, f, static_cast<std::uint64_t>(std::min(whole(min, most), most)),
                         static_cast<std::uint64_t>(most));
    }
    case ParamKind::choice: {
      const auto it = std::find(choices.begin(), choices.end(), text);
      if (it == choices.end()) {
        throw Error(
            fmt::format("{}: '{}' is not one of them; choose {}", f, shown(text), join(choices)));
      }
      return *it;
    }
    case ParamKind::text:
      if (std::any_of(text.begin(), text.end(), [](char c) {
            const auto byte = static_cast<unsigned char>(c);
            return byte < 0x20 || byte == 0x7f;
          })) {
        throw Error(fmt::format("{}: control characters are not allowed", f));
      }
      return std::string(text);
    case ParamKind::work:
      return parse_work(*this, text);
  }
  throw Error(fmt::format("{}: unknown parameter kind", f));
}

nlohmann::json Param::default_value() const {
  if (kind == ParamKind::text) return default_text;
  return parse(default_text);
}

nlohmann::json Param::check(const nlohmann::json& value, std::string_view where) const {
  const auto bad = [&](std::string_view what) {
    return Error(fmt::format("{}'s '{}' {}", where, key(), what));
  };
  // Each recorded form is turned back into what a user would type and parsed as such, so a
  // record is held to exactly the rules a flag is.
  try {
    switch (kind) {
      case ParamKind::count:
      case ParamKind::bytes:
        if (!value.is_number_unsigned() && !value.is_number_integer()) {
          throw bad("is not a whole number");
        }
        return parse(std::to_string(value.get<std::int64_t>()));
      case ParamKind::duration: {
        if (!value.is_number() || !std::isfinite(value.get<double>())) {
          throw bad("is not a duration in seconds");
        }
        const double s = value.get<double>();
        if (s == 0 && allow_zero) return 0.0;
        if (s <= 0 || s > 86400) throw bad("is not a duration in seconds");
        if (s < min || (max > 0 && s > max)) throw bad("is out of range");
        return s;
      }
      case ParamKind::fraction:
        if (!value.is_number()) throw bad("is not a fraction");
        return parse(fmt::format("{}", value.get<double>()));
      case ParamKind::choice:
      case ParamKind::text:
        if (!value.is_string()) throw bad("is not text");
        return parse(value.get<std::string>());
      case ParamKind::work:
        if (value.is_object() && value.contains("iters") &&
            (value["iters"].is_number_unsigned() || value["iters"].is_number_integer())) {
          return parse(std::to_string(value["iters"].get<std::int64_t>()));
        }
        if (value.is_object() && value.contains("duration_s") && value["duration_s"].is_number()) {
          const double s = value["duration_s"].get<double>();
          if (!(s > 0 && s <= 86400)) throw bad("is not a duration in seconds");
          return {{"duration_s", s}};
        }
        throw bad("is neither {\"iters\": N} nor {\"duration_s\": S}");
    }
  } catch (const Error& e) {
    // A parse error names the flag; in a record the field is what to name.
    if (std::string_view(e.what()).rfind(where, 0) == 0) throw;
    throw bad(fmt::format("is not allowed ({})", e.what()));
  }
  throw bad("has an unknown kind");
}

std::string Param::text(const nlohmann::json& value) const {
  if (value.is_array()) {  // a scan axis: "1ms, 10ms, 100ms"
    std::string out;
    for (const auto& v : value) out += (out.empty() ? "" : ", ") + text(v);
    return out;
  }
  switch (kind) {
    case ParamKind::duration:
      return value.is_number() ? format_duration(value.get<double>()) : "unknown";
    case ParamKind::bytes:
      return value.is_number_unsigned() || value.is_number_integer()
                 ? format_bytes(value.get<std::uint64_t>())
                 : "unknown";
    case ParamKind::work:
      if (value.contains("iters")) return fmt::format("{} iterations", value["iters"].dump());
      if (value.contains("duration_s") && value["duration_s"].is_number()) {
        return format_duration(value["duration_s"].get<double>());
      }
      return "unknown";
    case ParamKind::choice:
    case ParamKind::text:
      return value.is_string() ? value.get<std::string>() : "unknown";
    case ParamKind::fraction:
      return value.is_number() ? fmt::format("{:g} %", value.get<double>() * 100) : "unknown";
    case ParamKind::count:
      return value.is_number() ? value.dump() : "unknown";
  }
  return "unknown";
}

std::string Param::report_text(const nlohmann::json& value) const {
  if (report.empty()) return {};
  const std::size_t at = report.find("{}");
  std::string out =
      at == std::string::npos ? report : report.substr(0, at) + text(value) + report.substr(at + 2);
  // A duration of CPU work became iterations at the start of the run.
  const auto calibrated = [](const nlohmann::json& v) {
    return v.is_object() && v.contains("duration_s");
  };
  if (kind == ParamKind::work &&
      (value.is_array() ? std::any_of(value.begin(), value.end(), calibrated)
                        : calibrated(value))) {
    out += " (calibrated to iterations)";
  }
  return out;
}

ParamValues::ParamValues(nlohmann::json values) : values_(std::move(values)) {
  if (!values_.is_object()) values_ = nlohmann::json::object();
}

bool ParamValues::has(const std::string& key) const {
  return values_.contains(key);
}

std::uint64_t ParamValues::count(const std::string& key, std::uint64_t fallback) const {
  const auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<std::int64_t>() >= 0)) {
    throw Error(fmt::format("parameter '{}': {} is not a whole number", key, it->dump()));
  }
  return it->get<std::uint64_t>();
}

double ParamValues::number(const std::string& key, double fallback) const {
  const auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  if (!it->is_number()) {
    throw Error(fmt::format("parameter '{}': {} is not a number", key, it->dump()));
  }
  return it->get<double>();
}

std::chrono::nanoseconds ParamValues::duration(const std::string& key,
                                               std::chrono::nanoseconds fallback) const {
  if (!has(key)) return fallback;
  return seconds_to_ns(number(key));
}

std::string ParamValues::text(const std::string& key, const std::string& fallback) const {
  const auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  if (!it->is_string()) {
    throw Error(fmt::format("parameter '{}': {} is not text", key, it->dump()));
  }
  return it->get<std::string>();
}

CpuWork ParamValues::work(const std::string& key) const {
  const auto it = values_.find(key);
  if (it == values_.end() || !it->is_object()) return {};
  if (it->contains("iters")) return {(*it)["iters"].get<std::uint64_t>(), {}};
  if (it->contains("duration_s")) return {0, seconds_to_ns((*it)["duration_s"].get<double>())};
  return {};
}

void ParamValues::set(const std::string& key, nlohmann::json value) {
  values_[key] = std::move(value);
}

void ParamValues::set_duration(const std::string& key, std::chrono::nanoseconds value) {
  values_[key] = std::chrono::duration<double>(value).count();
}

std::uint64_t parse_bytes(std::string_view text, std::string_view flag, std::uint64_t min,
                          std::uint64_t max) {
  struct Unit {
    std::string_view suffix;
    std::uint64_t factor;
  };
  static constexpr Unit kUnits[] = {{"KiB", 1ULL << 10},
                                    {"MiB", 1ULL << 20},
                                    {"GiB", 1ULL << 30},
                                    {"KB", 1000},
                                    {"MB", 1000000},
                                    {"GB", 1000000000},
                                    {"B", 1}};
  const std::string quoted = shown(text);
  std::string_view number = text;
  std::uint64_t factor = 1;
  for (const auto& unit : kUnits) {
    if (number.size() > unit.suffix.size() && number.ends_with(unit.suffix)) {
      number.remove_suffix(unit.suffix.size());
      factor = unit.factor;
      break;
    }
  }
  while (!number.empty() && number.back() == ' ') number.remove_suffix(1);
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  const auto expected = fmt::format("expected a size from {} to {} like 4096, 64KiB or 1MiB",
                                    format_bytes(min), format_bytes(max));
  if (number.empty() || ec == std::errc::invalid_argument || end != number.data() + number.size()) {
    throw Error(fmt::format("{}: '{}' is not a size; {}", flag, quoted, expected));
  }
  if (ec == std::errc::result_out_of_range || value > max / factor || value * factor < min ||
      value * factor > max) {
    throw Error(fmt::format("{}: {} is out of range; {}", flag, quoted, expected));
  }
  return value * factor;
}

std::string format_bytes(std::uint64_t bytes) {
  static constexpr const char* kNames[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 6) {
    value /= 1024;
    ++unit;
  }
  if (unit == 0) return fmt::format("{} B", bytes);
  return value == std::floor(value) ? fmt::format("{:.0f} {}", value, kNames[unit])
                                    : fmt::format("{:.3g} {}", value, kNames[unit]);
}

}  // namespace scalelab
