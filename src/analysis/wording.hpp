#pragma once
// How the analysis writes numbers and worker counts into its sentences (the stats' impossible
// causes and the conclusions), in one place so the two read alike.

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

/// "1 worker", "4 workers".
inline std::string workers_text(int workers) {
  return workers == 1 ? "1 worker" : fmt::format("{} workers", workers);
}

}  // namespace scalelab::detail
