// From counts to signal values to a score: the curves and constants of the classifier.
//
// Pure functions over plain structs, kept apart from classifier.cc so that the unit
// tests and the tuning tools can check each curve on its own.
#pragma once

#include <cstdint>

#include "classify/request_stats.h"
#include "classify/signals.h"

namespace signalbox::classify {

// Strength of a keyword added by classifier.keywords (built-in strong markers are 1 too).
inline constexpr float kUserKeywordStrength = 1.0f;

// Fills values[kNumSignals] (each in [0,1]) from the gathered counts.
void ComputeSignalValues(const RequestStats& rs, double* values);

// The score in (0,1) of a signed sum of contributions: a logistic, increasing in `sum`.
double ScoreFromSum(double sum);

// 1 - exp(-x / scale): 0 at 0, 0.63 at `scale`, approaching 1. x < 0 gives 0.
double Saturate(double x, double scale);

}  // namespace signalbox::classify
