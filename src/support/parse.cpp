#include "scalelab/parse.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "scalelab/error.hpp"

namespace scalelab {
std::string shown(std::string_view text, std::size_t max_bytes) {
  std::string out;
  std::size_t i = 0;
  for (; i < text.size() && out.size() < max_bytes; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += text[i];
    }
  }
  if (i == text.size()) return out;
  // Never cut a UTF-8 character in half: back up over its continuation bytes and its lead byte
  // (bytes >= 0x80 are copied as they are, so `out` ends with the same bytes as text[..i)).
  while (i > 0 && (static_cast<unsigned char>(text[i]) & 0xc0) == 0x80) {
    --i;
    out.pop_back();
  }
  return fmt::format("{}... ({} bytes)", out, text.size());
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// One user-facing message for every malformed integer, so all flags read alike.
std::int64_t parse_int(std::string_view text, std::string_view flag, std::int64_t min,
                       std::int64_t max, std::string_view what) {
  text = trim(text);
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec == std::errc::invalid_argument || end != text.data() + text.size()) {
    throw Error(fmt::format("{}: '{}' is not {}; expected a whole number from {} to {}", flag,
                            shown(text), what, min, max));
  }
  // A count has no sign: "-0" is zero in value, but what was typed is a negative number.
  if (text.front() == '-') {
    throw Error(fmt::format("{}: {} is negative; expected a whole number from {} to {}", flag,
                            shown(text), min, max));
  }
  if (ec == std::errc::result_out_of_range || value < min || value > max) {
    throw Error(fmt::format("{}: {} is out of range; expected a whole number from {} to {}", flag,
                            shown(text), min, max));
  }
  return value;
}

}  // namespace

std::chrono::nanoseconds parse_duration(std::string_view text, std::string_view flag,
                                        bool allow_zero) {
  const std::string_view original = trim(text);
  const auto bad = [&](std::string_view why) {
    return Error(fmt::format("{}: '{}' {}; expected a duration like 20ms, 1.5s, 250us, 100ns or 2m",
                             flag, shown(original), why));
  };
  std::string_view s = original;
  std::size_t split = 0;
  while (split < s.size() &&
         (std::isdigit(static_cast<unsigned char>(s[split])) || s[split] == '.')) {
    ++split;
  }
  const std::string_view number = s.substr(0, split);
  const std::string_view unit = trim(s.substr(split));
  if (number.empty()) throw bad("is not a duration");
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size() || !std::isfinite(value)) {
    throw bad("is not a duration");
  }
  double scale = 0;
  if (unit == "ns") {
    scale = 1;
  } else if (unit == "us" || unit == "µs") {
    scale = 1e3;
  } else if (unit == "ms") {
    scale = 1e6;
  } else if (unit == "s") {
    scale = 1e9;
  } else if (unit == "m" || unit == "min") {
    scale = 60e9;
  } else if (unit.empty()) {
    throw bad("has no unit");
  } else {
    throw bad("has an unknown unit");
  }
  const double ns = value * scale;
  // A day is far beyond any sensible task, and keeps the value well inside int64 nanoseconds.
  if (ns > 86400e9) throw bad("is longer than a day");
  const auto result = std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(ns)));
  if (result.count() == 0 && !(allow_zero && value == 0)) {
    throw bad(allow_zero ? "is below 1ns" : "must be greater than zero");
  }
  return result;
}

std::int64_t parse_count(std::string_view text, std::string_view flag, std::int64_t min,
                         std::int64_t max) {
  return parse_int(text, flag, min, max, "a number");
}

double parse_fraction(std::string_view text, std::string_view flag) {
  const std::string_view t = trim(text);
  double value = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  // A leading '-' is refused even on zero: "-0" parses to -0.0, which would be recorded so.
  if (t.empty() || t.front() == '-' || ec != std::errc() || end != t.data() + t.size() ||
      !std::isfinite(value) || value < 0 || value > 1) {
    throw Error(fmt::format("{}: '{}' is not a fraction; expected a number from 0 to 1, like 0.25",
                            flag, shown(t)));
  }
  return value;
}

std::vector<int> parse_workers(std::string_view text, std::string_view flag, int max_workers) {
  const std::string_view all = trim(text);
  if (all.empty()) {
    throw Error(fmt::format("{}: empty; expected worker counts like 1,2,8 or 1..16", flag));
  }
  std::set<int> counts;
  for (const std::string_view item : split_list(all)) {
    if (item.empty()) {
      throw Error(
          fmt::format("{}: '{}' has an empty item; expected worker counts like 1,2,8 or "
                      "1..16",
                      flag, shown(all)));
    }
    if (const auto dots = item.find(".."); dots != std::string_view::npos) {
      const auto lo =
          static_cast<int>(parse_int(item.substr(0, dots), flag, 1, max_workers, "a worker count"));
      const auto hi = static_cast<int>(
          parse_int(item.substr(dots + 2), flag, 1, max_workers, "a worker count"));
      if (hi < lo) {
        throw Error(fmt::format("{}: range '{}' runs backwards; write LOW..HIGH, e.g. 1..16", flag,
                                shown(item)));
      }
      for (std::int64_t w = lo; w < hi; w *= 2) counts.insert(static_cast<int>(w));
      counts.insert(hi);
    } else {
      counts.insert(static_cast<int>(parse_int(item, flag, 1, max_workers, "a worker count")));
    }
  }
  return {counts.begin(), counts.end()};
}

std::vector<std::string_view> split_list(std::string_view text) {
  std::vector<std::string_view> items;
  for (std::string_view rest = text;;) {
    const auto comma = rest.find(',');
    items.push_back(trim(rest.substr(0, comma)));
    if (comma == std::string_view::npos) return items;
    rest = rest.substr(comma + 1);
  }
}

std::vector<std::string> parse_name_list(std::string_view text, std::string_view flag) {
  std::vector<std::string> names;
  // Views into `text`, so that finding a duplicate costs a lookup, not a scan of every name.
  std::set<std::string_view> seen;
  for (const std::string_view item : split_list(text)) {
    if (item.empty()) {
      throw Error(fmt::format("{}: '{}' has an empty name; expected a comma-separated list", flag,
                              shown(text)));
    }
    // No model or workload is named with a control character; one here is a typing accident
    // (a pasted newline) that would otherwise reach the "unknown name" message raw.
    if (std::any_of(item.begin(), item.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
      throw Error(fmt::format("{}: '{}' has a control character in a name", flag, shown(item)));
    }
    if (seen.insert(item).second) names.emplace_back(item);
  }
  return names;
}

std::string format_duration(double seconds) {
  // Pick the unit after rounding to 3 decimals, so 0.9999996 s reads "1s", not "1000ms".
  static constexpr std::pair<double, const char*> units[] = {
      {1e-9, "ns"}, {1e-6, "us"}, {1e-3, "ms"}, {1, "s"}};
  const double a = std::fabs(seconds);
  std::size_t u = 0;
  while (u + 1 < std::size(units) && a >= units[u + 1].first) ++u;
  double value = std::round(seconds / units[u].first * 1000) / 1000;
  if (std::fabs(value) >= 1000 && u + 1 < std::size(units)) {
    ++u;
    value = std::round(seconds / units[u].first * 1000) / 1000;
  }
  std::string s = fmt::format("{:.3f}", value);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s + units[u].second;
}

}  // namespace scalelab
