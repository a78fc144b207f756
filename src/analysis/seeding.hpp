#pragma once
// The seeds of the bootstraps: the summary's (stats.cpp) and a comparison's (compare.cpp) derive
// each point's seed the same way, so both are the same on every platform and standard library.

#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace scalelab::detail {

/// FNV-1a, 64 bits (Fowler, Noll & Vo): a fixed, documented hash, unlike std::hash.
inline std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (const unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

/// The seed of one bootstrap: the run's seed combined with what is resampled (`purpose`:
/// "wall", "speedup", "compare") and for which point, so that every point draws its own stream
/// and the same trials give the same figures.
inline std::uint64_t point_seed(std::uint64_t seed, std::string_view purpose,
                                const std::string& workload, const std::string& model,
                                int workers) {
  const std::string identity =
      fmt::format("{}\x1f{}\x1f{}\x1f{}", purpose, workload, model, workers);
  return seed ^ fnv1a(identity);
}

}  // namespace scalelab::detail
