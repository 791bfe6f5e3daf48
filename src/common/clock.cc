#include "common/clock.h"

#include <thread>

namespace signalbox {

void RealClock::SleepFor(std::chrono::nanoseconds d) const { std::this_thread::sleep_for(d); }

const Clock& Clock::Real() {
  static const RealClock clock;
  return clock;
}

}  // namespace signalbox
