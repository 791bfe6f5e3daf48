#include "common/clock.h"

namespace signalbox {

const Clock& Clock::Real() {
  static const RealClock clock;
  return clock;
}

}  // namespace signalbox
