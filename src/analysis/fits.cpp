// Amdahl's law and the Universal Scalability Law fitted to a speedup curve by least squares.
//
// Amdahl (1967): S(N) = 1 / (f + (1 − f) / N), one parameter f ∈ [0, 1].
// USL (Gunther 1993; Guerrilla Capacity Planning, 2007): S(N) = λN / (1 + σ(N − 1) + κN(N − 1))
// with contention σ ≥ 0, coherency κ ≥ 0 and λ > 0. Both are fitted on S itself, since that is what
// was measured and what r² is reported on.

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "scalelab/analysis.hpp"

namespace scalelab {
namespace {

// Fewer worker counts than this leave USL's three parameters (almost) exactly determined,
// so a "fit" would be a curve through the points that says nothing about the law.
constexpr std::size_t min_worker_counts = 4;

struct Point {
  double workers = 1;
  double speedup = 1;
};

double amdahl(double serial_fraction, double workers) {
  return 1 / (serial_fraction + (1 - serial_fraction) / workers);
}

double amdahl_sse(const std::vector<Point>& points, double serial_fraction) {
  double sse = 0;
  for (const auto& p : points) {
    const double r = p.speedup - amdahl(serial_fraction, p.workers);
    sse += r * r;
  }
  return sse;
}

struct Usl {
  double sigma = 0, kappa = 0, lambda = 1;
};

double usl(const Usl& u, double workers) {
  return u.lambda * workers / (1 + u.sigma * (workers - 1) + u.kappa * workers * (workers - 1));
}

double usl_sse(const std::vector<Point>& points, const Usl& u) {
  double sse = 0;
  for (const auto& p : points) {
    const double r = p.speedup - usl(u, p.workers);
    sse += r * r;
  }
  return sse;
}

// 1 − SS_res / SS_tot on the speedups. When every speedup is the same (SS_tot = 0) the ratio
// is undefined: an exact fit then explains all there is (1), any other explains nothing (0).
double r_squared(const std::vector<Point>& points, double ss_res) {
  double mean = 0, sum_squares = 0;
  for (const auto& p : points) {
    mean += p.speedup;
    sum_squares += p.speedup * p.speedup;
  }
  mean /= static_cast<double>(points.size());
  double ss_tot = 0;
  for (const auto& p : points) ss_tot += (p.speedup - mean) * (p.speedup - mean);
  const double tolerance = 1e-12 * sum_squares;
  if (ss_tot <= tolerance) return ss_res <= tolerance ? 1 : 0;
  return 1 - ss_res / ss_tot;
}

// Solves the dim × dim system a x = b (dim ≤ 3) by Gaussian elimination with partial pivoting;
// false when it is singular.
bool solve(std::array<std::array<double, 3>, 3> a, std::array<double, 3> b, std::size_t dim,
           std::array<double, 3>& x) {
  for (std::size_t col = 0; col < dim; ++col) {
    std::size_t pivot = col;
    for (std::size_t r = col + 1; r < dim; ++r) {
      if (std::abs(a[r][col]) > std::abs(a[pivot][col])) pivot = r;
    }
    if (std::abs(a[pivot][col]) < 1e-300) return false;
    std::swap(a[col], a[pivot]);
    std::swap(b[col], b[pivot]);
    for (std::size_t r = col + 1; r < dim; ++r) {
      const double factor = a[r][col] / a[col][col];
      for (std::size_t c = col; c < dim; ++c) a[r][c] -= factor * a[col][c];
      b[r] -= factor * b[col];
    }
  }
  for (std::size_t col = dim; col-- > 0;) {
    double sum = b[col];
    for (std::size_t c = col + 1; c < dim; ++c) sum -= a[col][c] * x[c];
    x[col] = sum / a[col][col];
  }
  return std::isfinite(x[0]) && std::isfinite(x[1]) && std::isfinite(x[2]);
}

// f by least squares on S: a grid over [0, 1] finds the basin (each term is unimodal in f, their
// sum need not be), golden-section search (Kiefer 1953) then narrows it to machine precision.
double fit_amdahl(const std::vector<Point>& points) {
  constexpr int steps = 1000;
  int best = 0;
  for (int i = 1; i <= steps; ++i) {
    if (amdahl_sse(points, static_cast<double>(i) / steps) <
        amdahl_sse(points, static_cast<double>(best) / steps)) {
      best = i;
    }
  }
  double low = std::max(0, best - 1) / static_cast<double>(steps);
  double high = std::min(steps, best + 1) / static_cast<double>(steps);
  const double inverse_phi = (std::sqrt(5.0) - 1) / 2;
  double left = high - inverse_phi * (high - low), right = low + inverse_phi * (high - low);
  double sse_left = amdahl_sse(points, left), sse_right = amdahl_sse(points, right);
  for (int i = 0; i < 200 && high - low > 1e-15; ++i) {
    if (sse_left <= sse_right) {
      high = right;
      right = left;
      sse_right = sse_left;
      left = high - inverse_phi * (high - low);
      sse_left = amdahl_sse(points, left);
    } else {
      low = left;
      left = right;
      sse_left = sse_right;
      right = low + inverse_phi * (high - low);
      sse_right = amdahl_sse(points, right);
    }
  }
  // The bounds themselves are candidates: f = 0 (perfectly parallel) and f = 1 (not at all).
  double f = (low + high) / 2;
  for (const double edge : {0.0, 1.0}) {
    if (amdahl_sse(points, edge) <= amdahl_sse(points, f)) f = edge;
  }
  return f;
}

// The USL's start: N / S = 1/λ + (σ/λ)(N − 1) + (κ/λ)N(N − 1) is linear in its coefficients
// (the linearisation behind Gunther's (2007) regression). Non-negative least squares on it by
// trying every set of σ, κ held at 0 and keeping the best fit whose coefficients are all
// admissible.
Usl linearised_usl(const std::vector<Point>& points) {
  const auto column = [](std::size_t k, double n) {
    return k == 0 ? 1.0 : k == 1 ? n - 1 : n * (n - 1);
  };
  // Columns are scaled to a largest magnitude of 1 so the normal equations stay well
  // conditioned even with N(N − 1) in the thousands.
  std::array<double, 3> scale{1, 1, 1};
  for (const auto& p : points) {
    for (std::size_t k = 0; k < 3; ++k) scale[k] = std::max(scale[k], column(k, p.workers));
  }
  Usl best;
  double best_sse = -1;
  for (const std::vector<std::size_t>& used :
       std::vector<std::vector<std::size_t>>{{0, 1, 2}, {0, 1}, {0, 2}, {0}}) {
    const std::size_t dim = used.size();
    std::array<std::array<double, 3>, 3> normal{};
    std::array<double, 3> rhs{}, x{};
    for (const auto& p : points) {
      const double y = p.workers / p.speedup;
      for (std::size_t i = 0; i < dim; ++i) {
        const double xi = column(used[i], p.workers) / scale[used[i]];
        rhs[i] += xi * y;
        for (std::size_t j = 0; j < dim; ++j) {
          normal[i][j] += xi * column(used[j], p.workers) / scale[used[j]];
        }
      }
    }
    if (!solve(normal, rhs, dim, x)) continue;
    std::array<double, 3> coefficient{0, 0, 0};
    for (std::size_t i = 0; i < dim; ++i) coefficient[used[i]] = x[i] / scale[used[i]];
    if (coefficient[0] <= 0 || coefficient[1] < 0 || coefficient[2] < 0) continue;
    double sse = 0;
    for (const auto& p : points) {
      double predicted = 0;
      for (std::size_t k = 0; k < 3; ++k) predicted += coefficient[k] * column(k, p.workers);
      sse += (p.workers / p.speedup - predicted) * (p.workers / p.speedup - predicted);
    }
    if (best_sse < 0 || sse < best_sse) {
      best_sse = sse;
      best = {.sigma = coefficient[1] / coefficient[0],
              .kappa = coefficient[2] / coefficient[0],
              .lambda = 1 / coefficient[0]};
    }
  }
  return best;
}

// Least squares for S = λN alone: where the linearised start cannot be had, the refinement
// still starts from a curve of the right size.
Usl linear_usl(const std::vector<Point>& points) {
  double numerator = 0, denominator = 0;
  for (const auto& p : points) {
    numerator += p.speedup * p.workers;
    denominator += p.workers * p.workers;
  }
  return {.sigma = 0, .kappa = 0, .lambda = denominator > 0 ? numerator / denominator : 1};
}

// Levenberg–Marquardt (Levenberg 1944; Marquardt 1963, with his diagonal scaling, since λ, σ and
// κ differ by orders of magnitude) minimising Σ(S − Ŝ)². σ, κ ≥ 0 by projection; a parameter at
// 0 whose descent direction points below 0 is held there for the step, so that it does not
// stall the others.
Usl refine_usl(const std::vector<Point>& points, Usl start) {
  Usl current = start;
  double cost = usl_sse(points, current);
  double damping = 1e-3;
  for (int iteration = 0; iteration < 1000 && damping < 1e16 && cost > 0; ++iteration) {
    std::array<std::array<double, 3>, 3> jtj{};
    std::array<double, 3> jtr{};
    for (const auto& p : points) {
      const double n = p.workers;
      const double d = 1 + current.sigma * (n - 1) + current.kappa * n * (n - 1);
      const double predicted = current.lambda * n / d;
      // ∂Ŝ/∂λ, ∂Ŝ/∂σ, ∂Ŝ/∂κ.
      const std::array<double, 3> gradient{n / d, -predicted * (n - 1) / d,
                                           -predicted * n * (n - 1) / d};
      const double residual = p.speedup - predicted;
      for (std::size_t i = 0; i < 3; ++i) {
        jtr[i] += gradient[i] * residual;
        for (std::size_t j = 0; j < 3; ++j) jtj[i][j] += gradient[i] * gradient[j];
      }
    }
    // Free parameters: λ always; σ and κ unless held at their bound.
    std::vector<std::size_t> free{0};
    if (current.sigma > 0 || jtr[1] > 0) free.push_back(1);
    if (current.kappa > 0 || jtr[2] > 0) free.push_back(2);
    std::array<std::array<double, 3>, 3> system{};
    std::array<double, 3> rhs{}, step{};
    for (std::size_t i = 0; i < free.size(); ++i) {
      rhs[i] = jtr[free[i]];
      for (std::size_t j = 0; j < free.size(); ++j) system[i][j] = jtj[free[i]][free[j]];
      system[i][i] += damping * std::max(jtj[free[i]][free[i]], 1e-300);
    }
    if (!solve(system, rhs, free.size(), step)) {
      damping *= 10;
      continue;
    }
    std::array<double, 3> next{current.lambda, current.sigma, current.kappa};
    for (std::size_t i = 0; i < free.size(); ++i) next[free[i]] += step[i];
    const Usl candidate{.sigma = std::max(next[1], 0.0),
                        .kappa = std::max(next[2], 0.0),
                        .lambda = std::max(next[0], 1e-12)};
    const double candidate_cost = usl_sse(points, candidate);
    if (candidate_cost < cost) {
      const double improvement = cost - candidate_cost;
      current = candidate;
      cost = candidate_cost;
      damping = std::max(damping / 3, 1e-12);
      if (improvement <= 1e-15 * cost) break;
    } else {
      damping *= 4;
    }
  }
  return current;
}

}  // namespace

ScalingFit fit_scaling(std::span<const int> workers, std::span<const double> speedup) {
  // Repeated worker counts are averaged: the fit weighs each worker count once. Points that
  // are no measurement (no workers, a non-positive or non-finite speedup) are left out.
  std::map<int, std::pair<double, int>> by_workers;
  for (std::size_t i = 0; i < std::min(workers.size(), speedup.size()); ++i) {
    if (workers[i] < 1 || !std::isfinite(speedup[i]) || speedup[i] <= 0) continue;
    auto& [sum, count] = by_workers[workers[i]];
    sum += speedup[i];
    ++count;
  }
  ScalingFit fit;
  fit.points = by_workers.size();
  if (fit.points < min_worker_counts) {
    fit.refused = fmt::format("needs at least {} distinct worker counts, has {}", min_worker_counts,
                              fit.points);
    return fit;
  }
  std::vector<Point> points;
  for (const auto& [w, sum_count] : by_workers) {
    points.push_back({static_cast<double>(w), sum_count.first / sum_count.second});
  }

  fit.amdahl_serial_fraction = fit_amdahl(points);
  fit.amdahl_r2 = r_squared(points, amdahl_sse(points, fit.amdahl_serial_fraction));

  // Two starts, the linearised fit and a straight line, refined; the better one is kept.
  Usl best = refine_usl(points, linearised_usl(points));
  const Usl other = refine_usl(points, linear_usl(points));
  if (usl_sse(points, other) < usl_sse(points, best)) best = other;
  // A σ or κ that moves the denominator by less than 1e-9 over the measured range is zero in
  // all but rounding; left in, κ = 1e-18 would put a "peak" at a billion workers.
  const double most = points.back().workers;
  if (best.sigma * (most - 1) < 1e-9) best.sigma = 0;
  if (best.kappa * most * (most - 1) < 1e-9) best.kappa = 0;
  fit.usl_sigma = best.sigma;
  fit.usl_kappa = best.kappa;
  fit.usl_lambda = best.lambda;
  fit.usl_r2 = r_squared(points, usl_sse(points, best));
  // dS/dN = 0 at N* = √((1 − σ) / κ) (Gunther 2007); without coherency cost, or with
  // σ ≥ 1, the curve has no interior maximum.
  if (best.kappa > 0 && best.sigma < 1) {
    fit.usl_peak_workers = std::sqrt((1 - best.sigma) / best.kappa);
  }
  return fit;
}

}  // namespace scalelab
