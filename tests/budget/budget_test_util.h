// Helpers shared by the budget tests: a scratch directory, UTC instants and records.
#pragma once

#include <stdlib.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "budget/ledger.h"

namespace switchyard::budget::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its content on destruction.
class TempDir {
 public:
  TempDir() {
    std::string base = std::filesystem::temp_directory_path() / "switchyard-budget-XXXXXX";
    char* made = mkdtemp(base.data());
    path_ = made != nullptr ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

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

}  // namespace switchyard::budget::testing
