// The fitter behind `signalbox fit` and the routing-quality measure, on synthetic data
// whose answer is known.
#include "classify/weight_fit.h"

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "classify/routing_quality.h"

namespace signalbox::classify {
namespace {

SignalVector Weights(std::initializer_list<std::pair<int, double>> w) {
  SignalVector v{};
  for (auto [s, x] : w) v[s] = x;
  return v;
}

// Prompts whose signal values are uniform in [0,1] on the text signals (0 on the
// request-shape signals, as in a benchmark of plain prompts). The strong model gains 1
// with probability sigmoid(truth · values − 0.5), else nothing.
std::vector<LabelledPrompt> Synthetic(size_t n, const SignalVector& truth, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<LabelledPrompt> rows(n);
  for (size_t i = 0; i < n; ++i) {
    for (int s : {kSigLength, kSigCode, kSigMath, kSigReasoning, kSigMultiStep, kSigSimple}) {
      rows[i].values[s] = u(rng);
    }
    const double p = 1 / (1 + std::exp(-(WeightedSum(truth, rows[i].values) - 0.5) * 4));
    rows[i].outcome = {0.0, u(rng) < p ? 1.0 : 0.0, static_cast<uint32_t>(rng())};
  }
  return rows;
}

TEST_CASE("EvaluateRouting: a perfect order, the reverse order and a constant score",
          "[classify][fit]") {
  // Gains 1, 1, 0, 0: sending the two gainers first recovers the gap at once.
  std::vector<Outcome> o = {{0, 1, 4}, {0, 1, 3}, {1, 1, 2}, {0, 0, 1}};
  const RoutingQuality best = EvaluateRouting(o, {4, 3, 2, 1});
  // Curve 0.25, 0.5, 0.75, 0.75, 0.75 over a gap 0.25..0.75: trapezoid area 0.625.
  CHECK(best.apgr == Approx((0.625 - 0.25) / 0.5));
  CHECK(best.cpt50 == Approx(0.25));
  CHECK(best.strong95 == Approx(0.5));
  const RoutingQuality worst = EvaluateRouting(o, {1, 2, 3, 4});
  CHECK(worst.apgr < 0.5);
  CHECK(worst.strong95 == Approx(1.0));
  // A constant score falls back on the tie key: here the same order as `best`.
  CHECK(EvaluateRouting(o, {0, 0, 0, 0}).apgr == Approx(best.apgr));
  // No gap between the models: nothing to recover.
  CHECK(EvaluateRouting({{1, 1, 0}, {0, 0, 1}}, {1, 0}).apgr == 0.5);
}

TEST_CASE("TieKeyOf is routing-eval's: the first 32 bits of sha1(id)", "[classify][fit]") {
  CHECK(TieKeyOf("abc") == 0xa9993e36u);  // sha1("abc") = a9993e36...
}

TEST_CASE("The fit finds the signals that predict the gain and ignores the others",
          "[classify][fit]") {
  const SignalVector truth = Weights({{kSigMath, 1.0}, {kSigReasoning, 0.5}});
  const auto train = Synthetic(4000, truth, 1);
  const auto test = Synthetic(4000, truth, 2);
  FitOptions options;
  options.current = Weights({{kSigLength, 0.5}, {kSigTools, 0.25}, {kSigImages, 0.25}});
  const FitResult fit = FitSignalWeights(train, options);
  REQUIRE(fit.informative);
  CHECK(fit.weights[kSigMath] > 1.5 * fit.weights[kSigReasoning]);
  CHECK(fit.weights[kSigReasoning] > 3 * fit.weights[kSigLength]);
  CHECK(fit.weights[kSigReasoning] > 3 * fit.weights[kSigCode]);
  // Signals that never vary in the data cannot be learnt: they keep the current weight.
  CHECK_FALSE(fit.learnt[kSigTools]);
  CHECK(fit.weights[kSigTools] == 0.25);
  CHECK(fit.weights[kSigImages] == 0.25);
  CHECK(fit.learnt[kSigMath]);
  // On fresh prompts the fitted weights route better than the current ones, and about as
  // well as the truth.
  const double fitted = EvaluateWeights(test, fit.weights).apgr;
  CHECK(fitted > EvaluateWeights(test, options.current).apgr + 0.05);
  CHECK(fitted > EvaluateWeights(test, truth).apgr - 0.01);
  // Every weight stays in the config's range.
  for (double w : fit.weights) {
    CHECK(w >= 0);
    CHECK(w <= options.max_weight);
  }
}

TEST_CASE("A signal that lowers the score is learnt with its sign", "[classify][fit]") {
  // The strong model gains where `simple` is low: a positive `simple` weight (it subtracts).
  const SignalVector truth = Weights({{kSigSimple, 1.0}, {kSigLength, 0.2}});
  const FitResult fit = FitSignalWeights(Synthetic(3000, truth, 3), FitOptions{});
  CHECK(fit.weights[kSigSimple] > 2 * fit.weights[kSigLength]);
}

TEST_CASE("The fit is deterministic for a seed, and the permutation is one", "[classify][fit]") {
  const auto rows = Synthetic(600, Weights({{kSigMath, 1.0}}), 4);
  FitOptions options;
  options.seed = 7;
  const FitResult a = FitSignalWeights(rows, options);
  const FitResult b = FitSignalWeights(rows, options);
  CHECK(a.weights == b.weights);
  CHECK(a.ridge == b.ridge);
  const auto p = SeededPermutation(1000, 7);
  CHECK(std::set<size_t>(p.begin(), p.end()).size() == 1000);
  CHECK(*std::max_element(p.begin(), p.end()) == 999);
  CHECK(p == SeededPermutation(1000, 7));
  CHECK(p != SeededPermutation(1000, 8));
}

TEST_CASE("No difference between the models: the current weights are kept", "[classify][fit]") {
  auto rows = Synthetic(200, SignalVector{}, 5);
  for (auto& r : rows) r.outcome.strong = r.outcome.weak = 1;
  FitOptions options;
  options.current = Weights({{kSigLength, 0.5}, {kSigCode, 0.3}});
  const FitResult fit = FitSignalWeights(rows, options);
  CHECK_FALSE(fit.informative);
  CHECK(fit.weights == options.current);
}

// Groups that differ in how much the strong model helps, and in their level of `code`,
// while within a group `code` says nothing and `math` says everything: the plain fit
// learns "which group" from `code`, the within-group fit learns only `math`.
TEST_CASE("A within-group fit learns what predicts the gain inside a group, not which group",
          "[classify][fit]") {
  std::mt19937 rng(6);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<LabelledPrompt> rows;
  for (int g = 0; g < 10; ++g) {
    const double level = g / 10.0;  // the group's gain and its code level
    for (int i = 0; i < 300; ++i) {
      LabelledPrompt r;
      r.group = "g" + std::to_string(g);
      r.values[kSigCode] = std::min(1.0, level + 0.1 * u(rng));
      r.values[kSigMath] = u(rng);
      const double p = std::clamp(level + 0.3 * (r.values[kSigMath] - 0.5), 0.0, 1.0);
      r.outcome = {0.0, u(rng) < p ? 1.0 : 0.0, static_cast<uint32_t>(rng())};
      rows.push_back(r);
    }
  }
  FitOptions options;
  options.shrink_to_current = false;
  std::array<bool, kNumSignals> learnt{};
  const SignalVector plain = RidgeFit(rows, 0, options, &learnt);
  CHECK(plain[kSigCode] > plain[kSigMath]);
  options.within_groups = true;
  const SignalVector within = RidgeFit(rows, 0, options, &learnt);
  CHECK(within[kSigMath] > 0);
  CHECK(within[kSigCode] < 0.2 * within[kSigMath]);
}

TEST_CASE("A strong ridge shrinks the fit towards the current weights", "[classify][fit]") {
  const auto rows = Synthetic(2000, Weights({{kSigMath, 1.0}}), 8);
  FitOptions options;
  options.current = Weights({{kSigLength, 0.6}, {kSigMath, 0.3}});
  std::array<bool, kNumSignals> learnt{};
  const SignalVector w = RidgeFit(rows, 1e6, options, &learnt);
  REQUIRE(w[kSigMath] > 0);
  CHECK(w[kSigLength] / w[kSigMath] == Approx(2.0).epsilon(0.01));
  CHECK(w[kSigCode] == Approx(0).margin(1e-6));
}

}  // namespace
}  // namespace signalbox::classify
