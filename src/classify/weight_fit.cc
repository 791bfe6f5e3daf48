// The fitter behind `signalbox fit`; see weight_fit.h for the method and why.
#include "classify/weight_fit.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "classify/classifier.h"

namespace signalbox::classify {
namespace {

constexpr double kMinVariance = 1e-12;
constexpr int kMaxSweeps = 500;
constexpr double kWeightDecimals = 1000;  // printed and evaluated to 3 decimals

double SignOf(int s) { return KnownSignals()[s].lowers_score ? -1.0 : 1.0; }

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Fold of each row: whole groups per fold when the rows carry groups (at least two of
// them), else rows dealt round-robin after a seeded shuffle.
std::vector<int> AssignFolds(const std::vector<LabelledPrompt>& rows, int folds, uint64_t seed) {
  std::vector<int> fold(rows.size());
  std::map<std::string, int> groups;
  for (const LabelledPrompt& r : rows) {
    if (!r.group.empty()) groups.emplace(r.group, 0);
  }
  if (groups.size() >= 2) {
    const int k = std::min<int>(folds, static_cast<int>(groups.size()));
    const std::vector<size_t> perm = SeededPermutation(groups.size(), seed);
    std::vector<std::map<std::string, int>::iterator> its;
    for (auto it = groups.begin(); it != groups.end(); ++it) its.push_back(it);
    for (size_t i = 0; i < perm.size(); ++i) its[perm[i]]->second = static_cast<int>(i) % k;
    for (size_t i = 0; i < rows.size(); ++i) {
      fold[i] = rows[i].group.empty() ? static_cast<int>(i % k) : groups[rows[i].group];
    }
    return fold;
  }
  const std::vector<size_t> perm = SeededPermutation(rows.size(), seed);
  for (size_t i = 0; i < perm.size(); ++i) fold[perm[i]] = static_cast<int>(i % folds);
  return fold;
}

double SpreadOf(const std::vector<LabelledPrompt>& rows, const SignalVector& w) {
  double sum = 0, sq = 0;
  for (const LabelledPrompt& r : rows) {
    const double x = WeightedSum(w, r.values);
    sum += x;
    sq += x * x;
  }
  const double mean = sum / rows.size();
  return std::sqrt(std::max(0.0, sq / rows.size() - mean * mean));
}

double CrossValidatedApgr(const std::vector<LabelledPrompt>& rows, const std::vector<int>& fold,
                          int folds, double ridge, const FitOptions& options) {
  double total = 0;
  int used = 0;
  for (int f = 0; f < folds; ++f) {
    std::vector<LabelledPrompt> train, test;
    for (size_t i = 0; i < rows.size(); ++i) (fold[i] == f ? test : train).push_back(rows[i]);
    if (test.empty() || train.empty()) continue;
    std::array<bool, kNumSignals> learnt{};
    total += EvaluateWeights(test, RidgeFit(train, ridge, options, &learnt)).apgr;
    ++used;
  }
  return used ? total / used : 0.5;
}

}  // namespace

double WeightedSum(const SignalVector& weights, const SignalVector& values) {
  double sum = 0;
  for (int s = 0; s < kNumSignals; ++s) sum += SignOf(s) * weights[s] * values[s];
  return sum;
}

RoutingQuality EvaluateWeights(const std::vector<LabelledPrompt>& rows,
                               const SignalVector& weights) {
  std::vector<Outcome> outcomes;
  std::vector<double> scores;
  outcomes.reserve(rows.size());
  scores.reserve(rows.size());
  for (const LabelledPrompt& r : rows) {
    outcomes.push_back(r.outcome);
    scores.push_back(WeightedSum(weights, r.values));
  }
  return EvaluateRouting(outcomes, scores);
}

namespace {

// The signed values and the gain of each row, centred on the mean of all rows, or of
// the row's group when options.within_groups is set.
struct Centred {
  std::vector<SignalVector> x;
  std::vector<double> gain;
};

Centred CentreRows(const std::vector<LabelledPrompt>& rows, bool within_groups) {
  struct Sum {
    SignalVector x{};
    double gain = 0;
    double n = 0;
  };
  std::map<std::string, Sum> sums;
  auto key = [&](const LabelledPrompt& r) { return within_groups ? r.group : std::string(); };
  for (const LabelledPrompt& r : rows) {
    Sum& m = sums[key(r)];
    for (int s = 0; s < kNumSignals; ++s) m.x[s] += r.weight * SignOf(s) * r.values[s];
    m.gain += r.weight * (r.outcome.strong - r.outcome.weak);
    m.n += r.weight;
  }
  Centred c;
  c.x.reserve(rows.size());
  c.gain.reserve(rows.size());
  for (const LabelledPrompt& r : rows) {
    const Sum& m = sums[key(r)];
    SignalVector x;
    for (int s = 0; s < kNumSignals; ++s) x[s] = SignOf(s) * r.values[s] - m.x[s] / m.n;
    c.x.push_back(x);
    c.gain.push_back(r.outcome.strong - r.outcome.weak - m.gain / m.n);
  }
  return c;
}

// The centre of the ridge penalty: zero, or the current weights scaled by the one-variable
// least-squares fit of the gain on their sum (never below zero).
SignalVector Prior(const double (*gram)[kNumSignals], const SignalVector& cov,
                   const FitOptions& options, const std::array<bool, kNumSignals>& learnt) {
  SignalVector prior{};
  if (!options.shrink_to_current) return prior;
  double var = 0, covariance = 0;
  for (int s = 0; s < kNumSignals; ++s) {
    if (!learnt[s]) continue;
    covariance += options.current[s] * cov[s];
    for (int t = 0; t < kNumSignals; ++t) {
      if (learnt[t]) var += options.current[s] * gram[s][t] * options.current[t];
    }
  }
  if (var <= kMinVariance || covariance <= 0) return prior;
  for (int s = 0; s < kNumSignals; ++s)
    prior[s] = learnt[s] ? options.current[s] * covariance / var : 0;
  return prior;
}

}  // namespace

// Least squares of the centred gain on the centred signed values, each weight's penalty
// scaled by its signal's variance (ridge on standardised values, so `ridge` is free of
// units), solved by cyclic coordinate descent with each weight clipped at 0: a convex
// quadratic over a box, so the sweeps converge to its minimum.
SignalVector RidgeFit(const std::vector<LabelledPrompt>& rows, double ridge,
                      const FitOptions& options, std::array<bool, kNumSignals>* learnt) {
  double n = 0;
  for (const LabelledPrompt& r : rows) n += r.weight;
  const Centred c = CentreRows(rows, options.within_groups);
  double gram[kNumSignals][kNumSignals] = {};
  SignalVector cov{};
  for (size_t i = 0; i < rows.size(); ++i) {
    const SignalVector& x = c.x[i];
    const double wn = rows[i].weight / n;
    for (int s = 0; s < kNumSignals; ++s) {
      cov[s] += wn * x[s] * c.gain[i];
      for (int t = s; t < kNumSignals; ++t) gram[s][t] += wn * x[s] * x[t];
    }
  }
  for (int s = 0; s < kNumSignals; ++s) {
    for (int t = 0; t < s; ++t) gram[s][t] = gram[t][s];
    (*learnt)[s] = options.learn[s] && gram[s][s] > kMinVariance;
  }
  const SignalVector prior = Prior(gram, cov, options, *learnt);
  SignalVector w = prior;
  for (int sweep = 0; sweep < kMaxSweeps; ++sweep) {
    double moved = 0;
    for (int s = 0; s < kNumSignals; ++s) {
      if (!(*learnt)[s]) continue;
      double rest = cov[s];
      for (int t = 0; t < kNumSignals; ++t) {
        if (t != s) rest -= gram[s][t] * w[t];
      }
      rest += ridge * gram[s][s] * prior[s];
      const double next = std::max(0.0, rest / (gram[s][s] * (1 + ridge)));
      moved = std::max(moved, std::abs(next - w[s]));
      w[s] = next;
    }
    if (moved < 1e-12) break;
  }
  return w;
}

FitResult FitSignalWeights(const std::vector<LabelledPrompt>& rows, const FitOptions& options) {
  FitResult result;
  result.weights = options.current;
  const std::vector<int> fold = AssignFolds(rows, options.folds, options.seed);
  int folds = 0;
  for (int f : fold) folds = std::max(folds, f + 1);
  // Ties go to the stronger ridge: the grid is walked from the strongest down.
  result.cv_apgr = -1;
  for (auto it = options.ridge_grid.rbegin(); it != options.ridge_grid.rend(); ++it) {
    const double apgr = CrossValidatedApgr(rows, fold, folds, *it, options);
    if (apgr > result.cv_apgr + 1e-9) {
      result.cv_apgr = apgr;
      result.ridge = *it;
    }
  }
  const SignalVector raw = RidgeFit(rows, result.ridge, options, &result.learnt);
  SignalVector learnt_only{};
  for (int s = 0; s < kNumSignals; ++s) learnt_only[s] = result.learnt[s] ? raw[s] : 0;
  const double spread = SpreadOf(rows, learnt_only);
  if (spread <= 0) return result;  // nothing predicts the gain: keep the current weights
  const double target = SpreadOf(rows, options.current);
  double scale = (target > 0 ? target : 0.25) / spread;
  const double top = *std::max_element(learnt_only.begin(), learnt_only.end());
  scale = std::min(scale, options.max_weight / top);
  for (int s = 0; s < kNumSignals; ++s) {
    if (!result.learnt[s]) continue;
    result.weights[s] = std::round(raw[s] * scale * kWeightDecimals) / kWeightDecimals;
  }
  result.informative = true;
  return result;
}

std::vector<size_t> SeededPermutation(size_t n, uint64_t seed) {
  std::vector<size_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = i;
  uint64_t state = seed;
  for (size_t i = n; i > 1; --i) {
    const size_t j = SplitMix64(state) % i;
    std::swap(p[i - 1], p[j]);
  }
  return p;
}

}  // namespace signalbox::classify
