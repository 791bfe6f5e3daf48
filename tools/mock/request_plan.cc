#include "mock/request_plan.h"

#include <charconv>

namespace signalbox::mock {
namespace {

constexpr int64_t kMaxMs = 86'400'000;
constexpr int64_t kMaxTokens = 1'000'000;
constexpr int64_t kMaxUsage = 2'000'000'000;

std::optional<int64_t> ParseInt(std::string_view s, int64_t max) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v < 0 || v > max) return std::nullopt;
  return v;
}

// Reads an integer header into *out when present.
Status ReadIntHeader(const HeaderLookup& header, const char* name, int64_t max, int* out) {
  std::string value = header(name);
  if (value.empty()) return Status::Ok();
  auto v = ParseInt(value, max);
  if (!v) return InvalidArgument(std::string(name) + ": expected an integer, got '" + value + "'");
  *out = static_cast<int>(*v);
  return Status::Ok();
}

}  // namespace

std::optional<Usage> RequestPlan::MakeUsage(int64_t prompt_estimate, int64_t generated) const {
  if (omit_usage) return std::nullopt;
  return Usage{prompt_tokens.value_or(prompt_estimate), completion_tokens.value_or(generated)};
}

StatusOr<RequestPlan> MakeRequestPlan(const MockOptions& options, const HeaderLookup& header) {
  RequestPlan plan;
  plan.fault = options.fault;
  plan.tokens = options.tokens;
  plan.latency_ms = options.latency_ms;
  plan.token_interval_ms = options.token_interval_ms;
  plan.omit_usage = options.no_usage;
  plan.prompt_tokens = options.usage_prompt;
  plan.completion_tokens = options.usage_completion;

  if (std::string spec = header("x-mock-fault"); !spec.empty()) {
    auto fault = ParseFault(spec);
    if (!fault.ok()) return fault.status();
    plan.fault = *fault;
  }
  if (Status s = ReadIntHeader(header, "x-mock-tokens", kMaxTokens, &plan.tokens); !s.ok()) {
    return s;
  }
  if (Status s = ReadIntHeader(header, "x-mock-latency-ms", kMaxMs, &plan.latency_ms); !s.ok()) {
    return s;
  }
  if (Status s = ReadIntHeader(header, "x-mock-token-interval-ms", kMaxMs, &plan.token_interval_ms);
      !s.ok()) {
    return s;
  }
  if (std::string usage = header("x-mock-usage"); !usage.empty()) {
    if (usage == "none") {
      plan.omit_usage = true;
      return plan;
    }
    size_t comma = usage.find(',');
    std::optional<int64_t> p, c;
    if (comma != std::string::npos) {
      p = ParseInt(std::string_view(usage).substr(0, comma), kMaxUsage);
      c = ParseInt(std::string_view(usage).substr(comma + 1), kMaxUsage);
    }
    if (!p || !c) {
      return InvalidArgument("x-mock-usage: expected 'P,C' or 'none', got '" + usage + "'");
    }
    plan.omit_usage = false;
    plan.prompt_tokens = p;
    plan.completion_tokens = c;
  }
  return plan;
}

}  // namespace signalbox::mock
