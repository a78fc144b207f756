// Amdahl and USL fits on synthetic speedup curves whose parameters are known.

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "scalelab/analysis.hpp"

namespace {

using scalelab::fit_scaling;
using scalelab::ScalingFit;

const std::vector<int> powers_of_two{1, 2, 4, 8, 16, 32, 64};

// Gunther's USL: S(N) = λN / (1 + σ(N − 1) + κN(N − 1)).
double usl(double sigma, double kappa, double lambda, double workers) {
  return lambda * workers / (1 + sigma * (workers - 1) + kappa * workers * (workers - 1));
}

// Amdahl's law: S(N) = 1 / (f + (1 − f) / N).
double amdahl(double serial_fraction, double workers) {
  return 1 / (serial_fraction + (1 - serial_fraction) / workers);
}

std::vector<double> usl_curve(double sigma, double kappa, double lambda,
                              const std::vector<int>& workers) {
  std::vector<double> speedup;
  for (int w : workers) speedup.push_back(usl(sigma, kappa, lambda, w));
  return speedup;
}

// Σ(S − Ŝ)² of the fitted USL on the given points.
double usl_sse(const ScalingFit& fit, const std::vector<int>& workers,
               const std::vector<double>& speedup) {
  double sse = 0;
  for (std::size_t i = 0; i < workers.size(); ++i) {
    const double r = speedup[i] - usl(fit.usl_sigma, fit.usl_kappa, fit.usl_lambda, workers[i]);
    sse += r * r;
  }
  return sse;
}

// Within `relative` of `want`, as a fraction of it.
::testing::AssertionResult within(double got, double want, double relative) {
  if (std::abs(got - want) <= relative * std::abs(want)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << got << " is not within " << relative * 100 << " % of " << want;
}

TEST(FitsUsl, RecoversAnExactCurve) {
  const auto speedup = usl_curve(0.05, 0.002, 1, powers_of_two);
  const auto fit = fit_scaling(powers_of_two, speedup);
  ASSERT_TRUE(fit.fitted()) << fit.refused;
  EXPECT_EQ(fit.points, 7u);
  EXPECT_TRUE(within(fit.usl_sigma, 0.05, 0.01));
  EXPECT_TRUE(within(fit.usl_kappa, 0.002, 0.01));
  EXPECT_TRUE(within(fit.usl_lambda, 1, 0.01));
  EXPECT_NEAR(fit.usl_r2, 1, 1e-9);
  ASSERT_TRUE(fit.usl_peak_workers.has_value());
  EXPECT_TRUE(within(*fit.usl_peak_workers, std::sqrt(0.95 / 0.002), 0.01));  // ≈ 21.8
}

TEST(FitsUsl, RecoversLambdaOtherThanOne) {
  // A model whose single worker is slower than serial (start-up, dispatch) has λ < 1.
  const auto speedup = usl_curve(0.1, 0.0005, 0.8, powers_of_two);
  const auto fit = fit_scaling(powers_of_two, speedup);
  ASSERT_TRUE(fit.fitted());
  EXPECT_TRUE(within(fit.usl_sigma, 0.1, 0.01));
  EXPECT_TRUE(within(fit.usl_kappa, 0.0005, 0.01));
  EXPECT_TRUE(within(fit.usl_lambda, 0.8, 0.01));
  EXPECT_NEAR(fit.usl_r2, 1, 1e-9);
}

TEST(FitsUsl, NoisyCurveIsRecoveredApproximatelyAndIsTheLeastSquaresOptimum) {
  // ±1.5 % multiplicative noise, a fixed pattern so the test is deterministic.
  const std::vector<double> noise{1.01, 0.99, 1.015, 0.985, 1.0, 1.01, 0.99};
  auto speedup = usl_curve(0.05, 0.002, 1, powers_of_two);
  for (std::size_t i = 0; i < speedup.size(); ++i) speedup[i] *= noise[i];
  const auto fit = fit_scaling(powers_of_two, speedup);
  ASSERT_TRUE(fit.fitted());
  EXPECT_NEAR(fit.usl_sigma, 0.05, 0.02);
  EXPECT_TRUE(within(fit.usl_kappa, 0.002, 0.25));
  EXPECT_NEAR(fit.usl_lambda, 1, 0.05);
  EXPECT_GT(fit.usl_r2, 0.99);
  ASSERT_TRUE(fit.usl_peak_workers.has_value());
  EXPECT_TRUE(within(*fit.usl_peak_workers, std::sqrt(0.95 / 0.002), 0.15));

  // Least squares: no worse than the true parameters, and no better nearby.
  const double sse = usl_sse(fit, powers_of_two, speedup);
  ScalingFit truth;
  truth.usl_sigma = 0.05;
  truth.usl_kappa = 0.002;
  truth.usl_lambda = 1;
  EXPECT_LE(sse, usl_sse(truth, powers_of_two, speedup));
  for (const double step : {-1e-3, 1e-3}) {
    for (int parameter = 0; parameter < 3; ++parameter) {
      ScalingFit nudged = fit;
      double& value = parameter == 0   ? nudged.usl_sigma
                      : parameter == 1 ? nudged.usl_kappa
                                       : nudged.usl_lambda;
      value = std::max(0.0, value * (1 + step));
      EXPECT_LE(sse, usl_sse(nudged, powers_of_two, speedup) + 1e-15) << parameter << " " << step;
    }
  }
}

TEST(FitsAmdahl, RecoversTheSerialFraction) {
  std::vector<double> speedup;
  for (int w : powers_of_two) speedup.push_back(amdahl(0.1, w));
  const auto fit = fit_scaling(powers_of_two, speedup);
  ASSERT_TRUE(fit.fitted());
  EXPECT_NEAR(fit.amdahl_serial_fraction, 0.1, 1e-6);
  EXPECT_NEAR(fit.amdahl_r2, 1, 1e-9);
  // Amdahl is the USL with σ = f, κ = 0, λ = 1: no peak, the curve only flattens.
  EXPECT_NEAR(fit.usl_sigma, 0.1, 1e-4);
  EXPECT_NEAR(fit.usl_kappa, 0, 1e-7);
  EXPECT_NEAR(fit.usl_lambda, 1, 1e-4);
  EXPECT_NEAR(fit.usl_r2, 1, 1e-9);
}

TEST(FitsAmdahl, RetrogradeCurveFitsAmdahlWorseThanUsl) {
  // Amdahl cannot bend down; the USL can.
  const auto speedup = usl_curve(0.02, 0.01, 1, powers_of_two);
  const auto fit = fit_scaling(powers_of_two, speedup);
  ASSERT_TRUE(fit.fitted());
  EXPECT_LT(fit.amdahl_r2, fit.usl_r2);
  EXPECT_GE(fit.amdahl_serial_fraction, 0);
  EXPECT_LE(fit.amdahl_serial_fraction, 1);
  ASSERT_TRUE(fit.usl_peak_workers.has_value());
  EXPECT_TRUE(within(*fit.usl_peak_workers, std::sqrt(0.98 / 0.01), 0.01));
}

TEST(FitsScaling, PerfectlyLinearSpeedupHasNoContentionAndNoPeak) {
  std::vector<double> speedup(powers_of_two.begin(), powers_of_two.end());
  const auto fit = fit_scaling(powers_of_two, speedup);
  ASSERT_TRUE(fit.fitted());
  EXPECT_NEAR(fit.usl_sigma, 0, 1e-9);
  EXPECT_EQ(fit.usl_kappa, 0);
  EXPECT_NEAR(fit.usl_lambda, 1, 1e-9);
  EXPECT_FALSE(fit.usl_peak_workers.has_value());
  EXPECT_NEAR(fit.amdahl_serial_fraction, 0, 1e-9);
  EXPECT_NEAR(fit.amdahl_r2, 1, 1e-9);
  EXPECT_NEAR(fit.usl_r2, 1, 1e-9);
}

TEST(FitsScaling, FlatCurveIsFullySerial) {
  // Every speedup 1 (SS_tot = 0): f = 1 and σ = 1 fit exactly, which r² reports as 1.
  const std::vector<int> workers{1, 2, 4, 8};
  const std::vector<double> speedup{1, 1, 1, 1};
  const auto fit = fit_scaling(workers, speedup);
  ASSERT_TRUE(fit.fitted());
  EXPECT_NEAR(fit.amdahl_serial_fraction, 1, 1e-9);
  EXPECT_EQ(fit.amdahl_r2, 1);
  EXPECT_NEAR(fit.usl_sigma, 1, 1e-6);
  EXPECT_NEAR(fit.usl_kappa, 0, 1e-9);
  EXPECT_FALSE(fit.usl_peak_workers.has_value());
  EXPECT_EQ(fit.usl_r2, 1);
}

TEST(FitsScaling, RefusesFewerThanFourWorkerCounts) {
  const std::vector<int> workers{1, 2, 4};
  const std::vector<double> speedup{1, 1.9, 3.5};
  const auto fit = fit_scaling(workers, speedup);
  EXPECT_FALSE(fit.fitted());
  EXPECT_EQ(fit.refused, "needs at least 4 distinct worker counts, has 3");
  EXPECT_EQ(fit.points, 3u);
  EXPECT_FALSE(fit.usl_peak_workers.has_value());

  EXPECT_EQ(fit_scaling({}, {}).refused, "needs at least 4 distinct worker counts, has 0");
  const std::vector<int> one{4};
  const std::vector<double> one_speedup{3.2};
  EXPECT_EQ(fit_scaling(one, one_speedup).refused,
            "needs at least 4 distinct worker counts, has 1");
}

TEST(FitsScaling, DuplicateWorkerCountsAreAveraged) {
  // Two trials' worth at 2 and 8 workers, symmetric around the true curve: their means are it.
  const std::vector<int> workers{1, 2, 2, 4, 8, 8, 16};
  const double sigma = 0.05, kappa = 0.002;
  std::vector<double> speedup;
  for (std::size_t i = 0; i < workers.size(); ++i) {
    const double offset = (workers[i] == 2 || workers[i] == 8) ? (i % 2 == 0 ? 0.1 : -0.1) : 0;
    speedup.push_back(usl(sigma, kappa, 1, workers[i]) + offset);
  }
  const auto fit = fit_scaling(workers, speedup);
  ASSERT_TRUE(fit.fitted());
  EXPECT_EQ(fit.points, 5u);
  EXPECT_TRUE(within(fit.usl_sigma, sigma, 0.01));
  EXPECT_TRUE(within(fit.usl_kappa, kappa, 0.01));
  EXPECT_NEAR(fit.usl_r2, 1, 1e-9);
}

TEST(FitsScaling, DuplicatesDoNotCountAsDistinctWorkerCounts) {
  const std::vector<int> workers{1, 1, 2, 2, 4, 4};
  const std::vector<double> speedup{1, 1, 2, 2, 4, 4};
  const auto fit = fit_scaling(workers, speedup);
  EXPECT_EQ(fit.refused, "needs at least 4 distinct worker counts, has 3");
}

TEST(FitsScaling, PointsThatAreNoMeasurementAreLeftOut) {
  // A non-finite or non-positive speedup is no point on the curve; what remains is exact.
  const std::vector<int> workers{1, 2, 4, 8, 16, 0};
  std::vector<double> speedup = usl_curve(0.05, 0.002, 1, {1, 2, 4, 8, 16});
  speedup.push_back(5);
  speedup[3] = std::nan("");
  const auto fit = fit_scaling(workers, speedup);
  ASSERT_TRUE(fit.fitted());
  EXPECT_EQ(fit.points, 4u);
  EXPECT_TRUE(within(fit.usl_sigma, 0.05, 0.01));
}

TEST(FitsToJson, FittedAndRefused) {
  const auto fitted = fit_scaling(powers_of_two, usl_curve(0.05, 0.002, 1, powers_of_two));
  const auto json = scalelab::to_json(fitted);
  EXPECT_TRUE(json.at("refused").is_null());
  EXPECT_EQ(json.at("points"), 7);
  EXPECT_DOUBLE_EQ(json.at("amdahl").at("serial_fraction").get<double>(),
                   fitted.amdahl_serial_fraction);
  EXPECT_DOUBLE_EQ(json.at("amdahl").at("r2").get<double>(), fitted.amdahl_r2);
  EXPECT_DOUBLE_EQ(json.at("usl").at("sigma").get<double>(), fitted.usl_sigma);
  EXPECT_DOUBLE_EQ(json.at("usl").at("kappa").get<double>(), fitted.usl_kappa);
  EXPECT_DOUBLE_EQ(json.at("usl").at("lambda").get<double>(), fitted.usl_lambda);
  EXPECT_DOUBLE_EQ(json.at("usl").at("r2").get<double>(), fitted.usl_r2);
  EXPECT_DOUBLE_EQ(json.at("usl").at("peak_workers").get<double>(), *fitted.usl_peak_workers);

  const std::vector<int> linear_workers{1, 2, 3, 4};
  const std::vector<double> linear{1, 2, 3, 4};
  EXPECT_TRUE(scalelab::to_json(fit_scaling(linear_workers, linear))
                  .at("usl")
                  .at("peak_workers")
                  .is_null());

  const std::vector<int> few{1, 2};
  const std::vector<double> few_speedup{1, 2};
  auto refused = fit_scaling(few, few_speedup);
  refused.workload = "cpu";
  refused.model = "threads";
  const auto refused_json = scalelab::to_json(refused);
  EXPECT_EQ(refused_json.at("workload"), "cpu");
  EXPECT_EQ(refused_json.at("model"), "threads");
  EXPECT_EQ(refused_json.at("refused"), "needs at least 4 distinct worker counts, has 2");
  EXPECT_TRUE(refused_json.at("amdahl").is_null());
  EXPECT_TRUE(refused_json.at("usl").is_null());
}

}  // namespace
