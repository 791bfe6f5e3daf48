// Money: USD amounts as integer nano-dollars.
//
// Pure functions, thread-safe. Every sum the budget module keeps (ledger window sums,
// in-memory totals, reservations) is an int64 count of 1e-9 USD, so the same records add
// up to the same number in any order: the live tracker and the ledger file agree to the
// last digit, which floating-point sums do not promise. One nano-dollar is far below one
// token at any real price ($0.10 per million tokens = 100 nano-dollars per token), and an
// int64 holds 9.2e9 USD.
#pragma once

#include <cstdint>
#include <string>

namespace signalbox::budget {

inline constexpr int64_t kNanoUsdPerUsd = 1'000'000'000;

// Rounds to the nearest nano-dollar; saturates at +-$9e9 (NaN gives 0).
int64_t ToNanoUsd(double usd);

inline double FromNanoUsd(int64_t nano_usd) {
  return static_cast<double>(nano_usd) / static_cast<double>(kNanoUsdPerUsd);
}

// "$20.00" for amounts of a dollar or more, "$0.0123" below (four decimals, so a budget
// that is nearly gone still shows how much is left).
std::string FormatUsd(double usd);

}  // namespace signalbox::budget
