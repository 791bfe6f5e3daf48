// Helpers shared by the budget tests: a scratch directory, UTC instants and records.
#pragma once

#include <stdlib.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "budget/ledger.h"
#include "testing/temp_dir.h"

namespace signalbox::budget::testing {

using signalbox::testing::TempDir;

// The wall-clock instant y-m-d h:mi:s UTC.
inline std::chrono::system_clock::time_point Utc(int y, unsigned m, unsigned d, int h = 0,
                                                 int mi = 0, int s = 0) {
  using namespace std::chrono;
  return sys_days(year(y) / month(m) / day(d)) + hours(h) + minutes(mi) + seconds(s);
}

inline int64_t UtcMs(int y, unsigned m, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             Utc(y, m, d, h, mi, s).time_since_epoch())
      .count();
}

inline AttemptRecord Record(std::string request_id, int attempt, std::string key,
                            std::string backend, double cost_usd, int64_t ts_ms = 0) {
  AttemptRecord r;
  r.ts_ms = ts_ms;
  r.request_id = std::move(request_id);
  r.attempt = attempt;
  r.key_id = std::move(key);
  r.backend = std::move(backend);
  r.input_tokens = 1000;
  r.output_tokens = 200;
  r.cost_usd = cost_usd;
  r.outcome = "ok";
  return r;
}

}  // namespace signalbox::budget::testing
