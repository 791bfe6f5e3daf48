#include "mock/request_plan.h"

#include <charconv>
#include <vector>

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
  return Usage{prompt_tokens.value_or(prompt_estimate), completion_tokens.value_or(generated),
               cached_tokens, cache_write_tokens};
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
  plan.cached_tokens = options.usage_cached;
  plan.cache_write_tokens = options.usage_cache_write;
  plan.tool_call = header("x-mock-tool-call");

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
    // P,C[,CACHED[,CACHE_WRITE]]: two to four integers.
    std::vector<std::optional<int64_t>> v;
    for (size_t start = 0;;) {
      size_t comma = usage.find(',', start);
      v.push_back(ParseInt(std::string_view(usage).substr(start, comma - start), kMaxUsage));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    bool ok = v.size() >= 2 && v.size() <= 4;
    for (const auto& x : v) ok = ok && x.has_value();
    if (!ok) {
      return InvalidArgument(
          "x-mock-usage: expected 'P,C[,CACHED[,CACHE_WRITE]]' or 'none', got '" + usage + "'");
    }
    plan.omit_usage = false;
    plan.prompt_tokens = v[0];
    plan.completion_tokens = v[1];
    if (v.size() > 2) plan.cached_tokens = v[2];
    if (v.size() > 3) plan.cache_write_tokens = v[3];
  }
  return plan;
}

}  // namespace signalbox::mock
