#include "common/clock.h"

namespace switchyard {

const Clock& Clock::Real() {
  static const RealClock clock;
  return clock;
}

}  // namespace switchyard
