#pragma once
// splitmix64 (Steele, Lea & Flood 2014, Vigna's reference constants): tiny, fast, and the same
// stream on every platform and standard library, which std::shuffle and
// std::uniform_int_distribution do not promise. So a recorded seed gives the same trial order
// and the same bootstrap anywhere.

#include <cstddef>
#include <cstdint>

namespace scalelab::detail {

/// splitmix64's increment (2^64 / φ); also what separates streams drawn from one seed.
inline constexpr std::uint64_t kSplitMixGamma = 0x9e3779b97f4a7c15ULL;

class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += kSplitMixGamma);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  /// An index in [0, n) by Lemire's multiply-shift (2019) on the upper 32 bits: no division,
  /// and a bias of at most n / 2^32, far below anything a bootstrap of a few trials can show.
  std::size_t index(std::size_t n) {
    if (n > 0xffffffffULL) return static_cast<std::size_t>(next() % n);
    return static_cast<std::size_t>(((next() >> 32) * static_cast<std::uint64_t>(n)) >> 32);
  }

 private:
  std::uint64_t state_;
};

}  // namespace scalelab::detail
