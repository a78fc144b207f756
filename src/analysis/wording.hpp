#pragma once
// How numbers and worker counts are written into sentences and cells (the stats' impossible
// causes, the conclusions, the report tables), in one place so they all read alike.

#include <string>

#include <fmt/format.h>

namespace scalelab::detail {

/// 32 → "32", 1.85 → "1.85": ideals are often whole numbers and read better without ".00".
inline std::string plain(double x) {
  std::string s = fmt::format("{:.2f}", x);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

/// A speedup or other ratio, as the tables print it: "1.93×".
inline std::string times(double ratio) {
  return fmt::format("{:.2f}×", ratio);
}

/// A fraction as a whole percentage: "97 %".
inline std::string percent(double fraction) {
  return fmt::format("{:.0f} %", fraction * 100);
}

/// "1 worker", "4 workers".
inline std::string workers_text(int workers) {
  return workers == 1 ? "1 worker" : fmt::format("{} workers", workers);
}

}  // namespace scalelab::detail
