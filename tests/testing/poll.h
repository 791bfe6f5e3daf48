// The one polling helper of the tests: wait for a condition by checking it, never by
// sleeping a guessed time. The timeout only bounds a failing test; a passing one returns
// as soon as the condition holds.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace signalbox::testing {

// Checks `pred` every `every` until it holds (true) or `timeout` passes (false, after one
// last check).
inline bool Eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20),
                       std::chrono::milliseconds every = std::chrono::milliseconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(every);
  }
  return pred();
}

}  // namespace signalbox::testing
