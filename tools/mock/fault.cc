#include "mock/fault.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

namespace signalbox::mock {
namespace {

// Largest count or delay a SPEC may carry: one day in ms, far beyond any test.
constexpr int kMaxNumber = 86'400'000;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::optional<int> ParseNumber(std::string_view s) {
  int value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size() || value < 0 || value > kMaxNumber) {
    return std::nullopt;
  }
  return value;
}

Status Unknown(std::string_view spec) {
  return InvalidArgument("unknown mock fault '" + std::string(spec) + "'");
}

}  // namespace

bool Fault::ActsBeforeBody() const {
  switch (kind) {
    case FaultKind::kStatus:
    case FaultKind::kRateLimit:
    case FaultKind::kRedirect:
    case FaultKind::kHang:
    case FaultKind::kSlowFirstByte:
    case FaultKind::kReset:
      return true;
    default:
      return false;
  }
}

StatusOr<Fault> ParseFault(std::string_view raw) {
  std::string spec(Trim(raw));
  std::transform(spec.begin(), spec.end(), spec.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  Fault fault;
  fault.spec = spec;
  if (spec.empty() || spec == "none") {
    fault.spec.clear();
    return fault;
  }
  std::string_view name = spec;
  std::optional<std::string_view> arg;
  if (size_t colon = spec.find(':'); colon != std::string::npos) {
    name = std::string_view(spec).substr(0, colon);
    arg = std::string_view(spec).substr(colon + 1);
  }
  std::optional<int> number;
  if (arg) {
    number = ParseNumber(*arg);
    if (!number) return Unknown(spec);
  }

  static constexpr int kStatuses[] = {400, 401, 403, 404, 500, 502, 503, 529};
  for (int status : kStatuses) {
    if (name == std::to_string(status) && !arg) {
      fault.kind = FaultKind::kStatus;
      fault.status = status;
      return fault;
    }
  }
  if (name == "429") {
    fault.kind = FaultKind::kRateLimit;
    fault.retry_after_s = number.value_or(1);
  } else if (name == "hang" && !arg) {
    fault.kind = FaultKind::kHang;
  } else if (name == "reset" && !arg) {
    fault.kind = FaultKind::kReset;
  } else if (name == "redirect" && !arg) {
    fault.kind = FaultKind::kRedirect;
  } else if (name == "empty-stream" && !arg) {
    fault.kind = FaultKind::kEmptyStream;
  } else if (name == "slow-first-byte" && number) {
    fault.kind = FaultKind::kSlowFirstByte;
    fault.delay_ms = *number;
  } else if (name == "cut" || name == "stall" || name == "error-event" || name == "malformed") {
    fault.kind = name == "cut"           ? FaultKind::kCut
                 : name == "stall"       ? FaultKind::kStall
                 : name == "error-event" ? FaultKind::kErrorEvent
                                         : FaultKind::kMalformed;
    fault.count = number.value_or(0);
  } else {
    return Unknown(spec);
  }
  return fault;
}

}  // namespace signalbox::mock
