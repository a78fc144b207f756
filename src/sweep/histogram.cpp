// Latency histograms of a trial's tasks, and start delays.

#include "scalelab/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include <fmt/format.h>

#include "scalelab/error.hpp"

namespace scalelab {
namespace {

constexpr std::uint32_t kSub = 16;  // linear sub-buckets per power of two
constexpr int kSubBits = 4;

std::uint64_t to_ns(double seconds) {
  if (!(seconds > 0)) return 0;  // negative, zero and NaN
  const double ns = std::round(seconds * 1e9);
  return ns >= 9.2e18 ? std::uint64_t{9'200'000'000'000'000'000ULL}
                      : static_cast<std::uint64_t>(ns);
}

}  // namespace

std::uint32_t LatencyHistogram::bucket_of(std::uint64_t ns) noexcept {
  if (ns < kSub) return static_cast<std::uint32_t>(ns);
  const int e = std::bit_width(ns) - 1;  // ≥ kSubBits
  const auto sub = static_cast<std::uint32_t>((ns >> (e - kSubBits)) - kSub);
  return kSub + static_cast<std::uint32_t>(e - kSubBits) * kSub + sub;
}

std::uint64_t LatencyHistogram::bucket_low(std::uint32_t bucket) noexcept {
  if (bucket < kSub) return bucket;
  const std::uint32_t e = (bucket - kSub) / kSub;
  const std::uint64_t sub = (bucket - kSub) % kSub;
  return (kSub + sub) << e;
}

std::uint64_t LatencyHistogram::bucket_high(std::uint32_t bucket) noexcept {
  if (bucket < kSub) return bucket + 1;
  const std::uint32_t e = (bucket - kSub) / kSub;
  return bucket_low(bucket) + (std::uint64_t{1} << e);
}

void LatencyHistogram::add(double seconds) {
  const std::uint64_t ns = to_ns(seconds);
  ++buckets_[bucket_of(ns)];
  min_ns_ = count_ == 0 ? ns : std::min(min_ns_, ns);
  max_ns_ = count_ == 0 ? ns : std::max(max_ns_, ns);
  ++count_;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (const auto& [bucket, n] : other.buckets_) buckets_[bucket] += n;
  min_ns_ = count_ == 0 ? other.min_ns_ : std::min(min_ns_, other.min_ns_);
  max_ns_ = count_ == 0 ? other.max_ns_ : std::max(max_ns_, other.max_ns_);
  count_ += other.count_;
}

double LatencyHistogram::quantile_s(double q) const {
  if (count_ == 0) return 0;
  const double wanted = std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count_));
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(wanted));
  std::uint64_t seen = 0;
  for (const auto& [bucket, n] : buckets_) {
    seen += n;
    if (seen < rank) continue;
    const std::uint64_t low = bucket_low(bucket);
    const std::uint64_t middle = low + (bucket_high(bucket) - low - 1) / 2;
    return static_cast<double>(std::clamp(middle, min_ns_, max_ns_)) * 1e-9;
  }
  return max_s();
}

nlohmann::json LatencyHistogram::to_json() const {
  nlohmann::json buckets = nlohmann::json::array();
  for (const auto& [bucket, n] : buckets_) buckets.push_back({bucket, n});
  return {{"count", count_},           {"min_s", min_s()},
          {"p50_s", quantile_s(0.5)},  {"p90_s", quantile_s(0.9)},
          {"p99_s", quantile_s(0.99)}, {"p999_s", quantile_s(0.999)},
          {"max_s", max_s()},          {"buckets", std::move(buckets)}};
}

LatencyHistogram LatencyHistogram::from_json(const nlohmann::json& json, const char* what) {
  const auto bad = [&](const char* why) { return Error(fmt::format("field '{}': {}", what, why)); };
  if (!json.is_object()) throw bad("not an object");
  const auto buckets = json.find("buckets");
  const auto lowest = json.find("min_s");
  const auto highest = json.find("max_s");
  if (buckets == json.end() || !buckets->is_array()) throw bad("'buckets' is not a list");
  LatencyHistogram h;
  for (const auto& pair : *buckets) {
    if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number_unsigned() ||
        !pair[1].is_number_unsigned() || pair[0].get<std::uint64_t>() > 1100) {
      throw bad("a bucket is not [index, count]");
    }
    // Counted in doubles by quantile_s: no more than 2^53 values, exactly.
    constexpr std::uint64_t kMost = std::uint64_t{1} << 53;
    const auto n = pair[1].get<std::uint64_t>();
    if (n > kMost || h.count_ + n > kMost) throw bad("more than 2^53 values");
    h.buckets_[pair[0].get<std::uint32_t>()] += n;
    h.count_ += n;
  }
  if (h.count_ > 0) {
    if (lowest == json.end() || !lowest->is_number() || highest == json.end() ||
        !highest->is_number()) {
      throw bad("'min_s' or 'max_s' is missing");
    }
    h.min_ns_ = to_ns(lowest->get<double>());
    h.max_ns_ = to_ns(highest->get<double>());
    if (h.min_ns_ > h.max_ns_) throw bad("'min_s' is above 'max_s'");
  }
  return h;
}

LatencyHistogram start_delays(const std::vector<double>& sorted_starts,
                              const std::vector<double>& sorted_ends, int workers) {
  const std::size_t slots = static_cast<std::size_t>(std::max(workers, 1));
  LatencyHistogram delays;
  for (std::size_t k = 0; k < sorted_starts.size(); ++k) {
    const double free_at =
        k < slots || k - slots >= sorted_ends.size() ? 0.0 : sorted_ends[k - slots];
    delays.add(sorted_starts[k] - free_at);
  }
  return delays;
}

LatencyHistogram durations(const std::vector<double>& start_s, const std::vector<double>& end_s) {
  LatencyHistogram h;
  for (std::size_t i = 0; i < start_s.size() && i < end_s.size(); ++i) h.add(end_s[i] - start_s[i]);
  return h;
}

}  // namespace scalelab
