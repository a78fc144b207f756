// Comparing two samples (Mann–Whitney U) and two runs point by point.

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "analysis/points.hpp"
#include "analysis/seeding.hpp"
#include "scalelab/analysis.hpp"

namespace scalelab {
namespace {

// Both samples at most this large and untied: the exact U distribution is enumerated (its
// counts stay below C(40, 20) ≈ 1.4e11, exact in a double), as scipy's "exact" method does.
constexpr std::size_t max_exact_size = 20;

// How many of the C(m + n, m) orderings of m values of A and n of B give each U of A
// (Mann & Whitney 1947, their recurrence): the largest value is either A's, beating all n of
// B's (U − n), or B's (U unchanged).
std::vector<double> u_frequencies(std::size_t m, std::size_t n) {
  const std::size_t width = m * n + 1;
  // previous[j] and current[j]: the distribution for i − 1 and i values of A against j of B.
  std::vector<std::vector<double>> previous(n + 1, std::vector<double>(width, 0));
  for (auto& counts : previous) counts[0] = 1;  // no values of A: U = 0, one ordering
  std::vector<std::vector<double>> current = previous;
  for (std::size_t i = 1; i <= m; ++i) {
    for (std::size_t j = 1; j <= n; ++j) {
      for (std::size_t u = 0; u <= i * j; ++u) {
        current[j][u] = current[j - 1][u] + (u >= j ? previous[j][u - j] : 0);
      }
    }
    std::swap(previous, current);
  }
  return previous[n];
}

}  // namespace

MannWhitney mann_whitney(std::span<const double> a, std::span<const double> b) {
  MannWhitney result;
  if (a.empty() || b.empty()) return result;
  const std::size_t n_a = a.size(), n_b = b.size(), n = n_a + n_b;

  // Midranks: tied values share the mean of the ranks they span.
  std::vector<std::pair<double, bool>> pooled;  // value, from a
  for (double v : a) pooled.emplace_back(v, true);
  for (double v : b) pooled.emplace_back(v, false);
  std::sort(pooled.begin(), pooled.end(),
            [](const auto& x, const auto& y) { return x.first < y.first; });
  double rank_sum_a = 0;
  double tie_term = 0;  // Σ (t³ − t) over groups of t tied values
  for (std::size_t first = 0; first < n;) {
    std::size_t end = first + 1;
    while (end < n && pooled[end].first == pooled[first].first) ++end;
    const double midrank = (static_cast<double>(first + 1) + static_cast<double>(end)) / 2;
    for (std::size_t i = first; i < end; ++i) {
      if (pooled[i].second) rank_sum_a += midrank;
    }
    const auto t = static_cast<double>(end - first);
    tie_term += t * t * t - t;
    first = end;
  }
  const double na = static_cast<double>(n_a), nb = static_cast<double>(n_b);
  result.u = rank_sum_a - na * (na + 1) / 2;

  if (tie_term == 0 && n_a <= max_exact_size && n_b <= max_exact_size) {
    const auto frequencies = u_frequencies(n_a, n_b);
    double total = 0, at_most = 0, at_least = 0;
    for (std::size_t u = 0; u < frequencies.size(); ++u) {
      total += frequencies[u];
      if (static_cast<double>(u) <= result.u) at_most += frequencies[u];
      if (static_cast<double>(u) >= result.u) at_least += frequencies[u];
    }
    result.exact = true;
    result.p_value = std::min(1.0, 2 * std::min(at_most, at_least) / total);
    return result;
  }

  // Normal approximation: mean n_a n_b / 2, variance with the tie correction
  // n_a n_b / 12 · ((n + 1) − Σ(t³ − t) / (n (n − 1))) (Lehmann 1975), and a continuity
  // correction of ½ towards the mean.
  const double mean = na * nb / 2;
  const double nd = static_cast<double>(n);
  const double variance = na * nb / 12 * ((nd + 1) - tie_term / (nd * (nd - 1)));
  if (variance <= 0) return result;  // every value tied: no evidence of any difference
  const double z = std::max(0.0, std::abs(result.u - mean) - 0.5) / std::sqrt(variance);
  result.p_value = std::min(1.0, std::erfc(z / std::sqrt(2.0)));
  return result;
}

namespace {

// Both the rank test and the interval must agree: a significant p with a CI straddling 1 is a
// shift too small to name a direction.
std::string verdict_of(const ComparisonRow& row) {
  if (row.test.p_value < 0.05 && row.ratio_ci.high < 1) return "faster";
  if (row.test.p_value < 0.05 && row.ratio_ci.low > 1) return "slower";
  return "no significant difference";
}

}  // namespace

std::vector<ComparisonRow> compare_runs(const std::vector<Trial>& a, const std::vector<Trial>& b,
                                        std::uint64_t seed) {
  // Points ordered as run A first shows its workloads and models, then by workers.
  detail::PointOrder order({}, {});
  for (const auto& t : a) {
    if (!t.warmup() && !t.failed()) order.add(t);
  }
  // Each run's counted records per point, then the wall times of the trials its figures use
  // (trials_in_figures: one per planned repeat, undisturbed where possible), in run order.
  // A scan's points apart: (workload rank, point, model rank, workers, names). Points compare
  // as JSON, by axis and then value, so numbers are in numeric order (tasks=16 after tasks=2).
  using Key = std::tuple<std::size_t, nlohmann::json, std::size_t, int, std::string, std::string>;
  const auto key_of = [&](const Trial& t) {
    const auto [workload_rank, model_rank, workers, workload, model] = order.key(t);
    return Key{workload_rank, t.point, model_rank, workers, workload, model};
  };
  std::map<Key, std::pair<std::vector<const Trial*>, std::vector<const Trial*>>> records;
  const auto collect = [&](const std::vector<Trial>& trials, bool from_a) {
    for (const auto& t : trials) {
      if (t.warmup()) continue;
      const Key key = key_of(t);
      // Only points run A has: the rest cannot be compared.
      if (!from_a && records.find(key) == records.end()) continue;
      auto& [records_a, records_b] = records[key];
      (from_a ? records_a : records_b).push_back(&t);
    }
  };
  collect(a, true);
  collect(b, false);
  std::map<Key, std::pair<std::vector<double>, std::vector<double>>> points;
  for (const auto& [key, both] : records) {
    auto& [walls_a, walls_b] = points[key];
    for (const Trial* t : trials_in_figures(both.first)) walls_a.push_back(t->wall_s);
    for (const Trial* t : trials_in_figures(both.second)) walls_b.push_back(t->wall_s);
  }

  std::vector<ComparisonRow> rows;
  for (const auto& [key, walls] : points) {
    const auto& [walls_a, walls_b] = walls;
    if (walls_a.empty() || walls_b.empty()) continue;
    ComparisonRow row;
    row.workload = std::get<4>(key);
    row.model = std::get<5>(key);
    row.workers = std::get<3>(key);
    row.point = std::get<1>(key);
    row.a = describe(walls_a);
    row.b = describe(walls_b);
    row.ratio = row.a.median != 0 ? row.b.median / row.a.median : 0;
    // A run without a scan keeps the seed it always had.
    const std::string purpose = row.point.empty() ? "compare" : "compare " + row.point.dump();
    row.ratio_ci = bootstrap_ratio_ci(
        walls_b, walls_a, detail::point_seed(seed, purpose, row.workload, row.model, row.workers));
    row.test = mann_whitney(walls_a, walls_b);
    row.verdict = verdict_of(row);
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace scalelab
