#include "budget/money.h"

#include <fmt/format.h>

#include <cmath>

namespace signalbox::budget {

int64_t ToNanoUsd(double usd) {
  // Saturate instead of overflowing: a huge configured limit must stay huge.
  constexpr double kMaxUsd = 9e9;
  if (std::isnan(usd)) return 0;
  if (usd >= kMaxUsd) return static_cast<int64_t>(kMaxUsd) * kNanoUsdPerUsd;
  if (usd <= -kMaxUsd) return -static_cast<int64_t>(kMaxUsd) * kNanoUsdPerUsd;
  return static_cast<int64_t>(std::llround(usd * static_cast<double>(kNanoUsdPerUsd)));
}

std::string FormatUsd(double usd) {
  if (std::fabs(usd) >= 1.0) return fmt::format("${:.2f}", usd);
  return fmt::format("${:.4f}", usd);
}

}  // namespace signalbox::budget
