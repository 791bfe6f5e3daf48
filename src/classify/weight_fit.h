// Learning the classifier's signal weights from labelled traffic (`signalbox fit`).
//
// The score's order is the order of Σ weight × signed value (the logistic squash and
// the tier bounds do not change it), so routing quality depends on the weights alone.
// The fit is a ridge regression of the strong model's gain (strong − weak quality) on
// the signal values the classifier computes, with every weight kept ≥ 0 (the config
// holds magnitudes; `simple` enters with its sign flipped, as it does in the score). The
// ridge strength is chosen by k-fold cross validation on the training rows, maximising
// the held-out folds' APGR; with groups (e.g. MMLU subjects), a fold holds whole groups
// out, so the choice favours weights that carry to groups the fit has not seen.
//
// The fitted weights are then scaled so that their sum spreads as much as the current
// weights' sum over the same prompts: the score keeps a familiar range and tier bounds
// stay meaningful (re-run `calibrate` all the same). A signal that never varies in the
// data (tools, images in a benchmark of plain prompts) cannot be learnt: it keeps its
// current weight. Pure functions; deterministic for a given seed.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "classify/routing_quality.h"
#include "classify/signals.h"

namespace signalbox::classify {

using SignalVector = std::array<double, kNumSignals>;

constexpr std::array<bool, kNumSignals> AllSignals() {
  std::array<bool, kNumSignals> all{};
  for (bool& b : all) b = true;
  return all;
}

// One labelled prompt: its signal values (Classification::signals[i].value, in
// KnownSignals() order), the two models' quality on it, and an optional group.
struct LabelledPrompt {
  SignalVector values{};
  Outcome outcome;
  std::string group;  // "" = none; cross validation keeps a group within one fold
  double weight = 1;  // the row's weight in the regression (e.g. to balance two data sets)
};

struct FitOptions {
  SignalVector current{};  // the weights in force now: kept for signals the data cannot fit
  // Signals to learn; the others keep their current weight (e.g. request-shape signals
  // a benchmark of plain prompts cannot measure).
  std::array<bool, kNumSignals> learn = AllSignals();
  // Learn only from differences within a group: centre the values and the gain per group
  // before the regression, so the weights say what predicts the gain among prompts of one
  // kind (one MMLU subject) and not which kind of prompt tends to gain: the mix of kinds
  // differs from one traffic to the next, the within-kind signal carries over.
  bool within_groups = false;
  // Shrink towards the current weights (scaled to the gain by a one-variable fit) instead
  // of towards zero: with little data or a weak signal the fit stays near the weights in
  // force, and moves away from them only as far as cross validation says it pays.
  bool shrink_to_current = true;
  std::vector<double> ridge_grid = {0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 1000.0};
  int folds = 5;
  uint64_t seed = 1;
  double max_weight = 10.0;  // the config's upper bound for a weight
};

struct FitResult {
  SignalVector weights{};
  std::array<bool, kNumSignals> learnt{};  // false: no variation in the data, kept as is
  double ridge = 0;                        // the chosen ridge strength (relative)
  double cv_apgr = 0.5;                    // its mean held-out APGR over the folds
  bool informative = false;                // false: no signal predicts the gain; weights = current
};

// The signed sum the score squashes: Σ weight × value, `simple` subtracting.
double WeightedSum(const SignalVector& weights, const SignalVector& values);

// APGR of `weights` on `rows` (their order by WeightedSum, ties by Outcome::tie).
RoutingQuality EvaluateWeights(const std::vector<LabelledPrompt>& rows,
                               const SignalVector& weights);

// Ridge fit of the gain at one strength, weights ≥ 0, unscaled, over the signals of
// options.learn (grouped as options.within_groups says). `learnt` marks the signals
// fitted (in options.learn and varying in `rows`); the others get 0. For the tests.
SignalVector RidgeFit(const std::vector<LabelledPrompt>& rows, double ridge,
                      const FitOptions& options, std::array<bool, kNumSignals>* learnt);

// REQUIRES: rows.size() >= 2 * options.folds.
FitResult FitSignalWeights(const std::vector<LabelledPrompt>& rows, const FitOptions& options);

// A deterministic permutation of 0..n-1 for `seed` (the same on every platform).
std::vector<size_t> SeededPermutation(size_t n, uint64_t seed);

}  // namespace signalbox::classify
