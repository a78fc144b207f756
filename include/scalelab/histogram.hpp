#pragma once
/// \file histogram.hpp
/// A trial's per-task times, kept compact: a log-bucketed histogram (HdrHistogram's layout: 16
/// linear sub-buckets per power of two of nanoseconds, so every bucket is at most 1/16 of its
/// value wide) with exact count, min and max. A million-task trial records two of these in a
/// few hundred bytes instead of two million numbers.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

namespace scalelab {

/// Durations in seconds, bucketed. A quantile is the middle of the bucket it falls in, clamped
/// to [min, max]: within 1/32 of the exact value (3.2 %), plus 1 ns.
class LatencyHistogram {
 public:
  /// Adds a value; negative ones count as 0.
  void add(double seconds);
  /// Adds every value of `other` (a point's trials, pooled): exact, since the buckets are the
  /// same.
  void merge(const LatencyHistogram& other);
  std::size_t count() const noexcept { return count_; }
  double min_s() const noexcept { return count_ == 0 ? 0 : min_ns_ * 1e-9; }
  double max_s() const noexcept { return count_ == 0 ? 0 : max_ns_ * 1e-9; }
  /// The q-quantile (0 ≤ q ≤ 1), the nearest-rank definition: the smallest value with at least
  /// q × count values at or below it. 0 when empty.
  double quantile_s(double q) const;

  /// {"count", "min_s", "p50_s", "p90_s", "p99_s", "p999_s", "max_s", "buckets": [[i, n], …]}
  /// (only the buckets that hold values).
  nlohmann::json to_json() const;
  /// Inverse of to_json; throws Error naming `what` on a malformed object.
  static LatencyHistogram from_json(const nlohmann::json& json, const char* what);

  /// The bucket a value of `ns` nanoseconds goes in, and the bucket's range [low, high).
  static std::uint32_t bucket_of(std::uint64_t ns) noexcept;
  static std::uint64_t bucket_low(std::uint32_t bucket) noexcept;
  static std::uint64_t bucket_high(std::uint32_t bucket) noexcept;

  friend bool operator==(const LatencyHistogram&, const LatencyHistogram&) = default;

 private:
  std::map<std::uint32_t, std::uint64_t> buckets_;  // few are ever used: a map, not 1000 slots
  std::size_t count_ = 0;
  std::uint64_t min_ns_ = 0;
  std::uint64_t max_ns_ = 0;
};

/// Each task's start delay: how long after a worker was free for it the task started. With W
/// workers taking tasks in order, the k-th task to start could start when the batch began (k <
/// W) or when the (k − W + 1)-th task to end had ended. `sorted_starts` and `sorted_ends`: the
/// tasks' starts and ends, seconds after the batch's clock started, each sorted ascending.
LatencyHistogram start_delays(const std::vector<double>& sorted_starts,
                              const std::vector<double>& sorted_ends, int workers);

/// Each task's duration, end − start.
LatencyHistogram durations(const std::vector<double>& start_s, const std::vector<double>& end_s);

}  // namespace scalelab
