#include "mock/mock_options.h"

#include <charconv>
#include <functional>
#include <map>

namespace signalbox::mock {
namespace {

constexpr int64_t kMaxMs = 86'400'000;     // one day
constexpr int64_t kMaxTokens = 1'000'000;  // keeps a mistyped flag from eating memory
constexpr int64_t kMaxThreads = 4096;

StatusOr<int64_t> ParseInt(const std::string& flag, const std::string& value, int64_t max) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || ptr != value.data() + value.size() || v < 0 || v > max) {
    return InvalidArgument(flag + ": expected an integer in [0, " + std::to_string(max) +
                           "], got '" + value + "'");
  }
  return v;
}

// Splits HOST:PORT; accepts [v6]:PORT and a bare PORT (host 127.0.0.1).
Status ParseListen(const std::string& value, MockOptions& o) {
  std::string host = "127.0.0.1";
  std::string port = value;
  if (size_t colon = value.rfind(':'); colon != std::string::npos) {
    host = value.substr(0, colon);
    port = value.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
  }
  auto p = ParseInt("--listen", port, 65535);
  if (!p.ok() || host.empty()) {
    return InvalidArgument("--listen: expected HOST:PORT, got '" + value + "'");
  }
  o.host = host;
  o.port = static_cast<int>(*p);
  return Status::Ok();
}

using Setter =
    std::function<Status(const std::string& flag, const std::string& value, MockOptions& o)>;

Setter IntSetter(int MockOptions::*field, int64_t max, int64_t min = 0) {
  return [field, max, min](const std::string& flag, const std::string& value, MockOptions& o) {
    auto v = ParseInt(flag, value, max);
    if (!v.ok()) return v.status();
    if (*v < min) return InvalidArgument(flag + ": must be at least " + std::to_string(min));
    o.*field = static_cast<int>(*v);
    return Status::Ok();
  };
}

Setter OptionalSetter(std::optional<int64_t> MockOptions::*field) {
  return [field](const std::string& flag, const std::string& value, MockOptions& o) {
    auto v = ParseInt(flag, value, INT32_MAX);
    if (!v.ok()) return v.status();
    o.*field = *v;
    return Status::Ok();
  };
}

// Flags that take a value.
const std::map<std::string, Setter>& ValueFlags() {
  static const auto* flags = new std::map<std::string, Setter>{
      {"--listen", [](auto&, const std::string& v, MockOptions& o) { return ParseListen(v, o); }},
      {"--model",
       [](const std::string& f, const std::string& v, MockOptions& o) {
         if (v.empty()) return InvalidArgument(f + ": must not be empty");
         o.model = v;
         return Status::Ok();
       }},
      {"--latency", IntSetter(&MockOptions::latency_ms, kMaxMs)},
      {"--tokens", IntSetter(&MockOptions::tokens, kMaxTokens)},
      {"--token-interval", IntSetter(&MockOptions::token_interval_ms, kMaxMs)},
      {"--usage-prompt", OptionalSetter(&MockOptions::usage_prompt)},
      {"--usage-completion", OptionalSetter(&MockOptions::usage_completion)},
      {"--usage-cached", OptionalSetter(&MockOptions::usage_cached)},
      {"--usage-cache-write", OptionalSetter(&MockOptions::usage_cache_write)},
      {"--threads", IntSetter(&MockOptions::threads, kMaxThreads, 1)},
      {"--fault",
       [](const std::string& f, const std::string& v, MockOptions& o) {
         auto fault = ParseFault(v);
         if (!fault.ok()) return InvalidArgument(f + ": " + fault.status().message());
         o.fault = *fault;
         return Status::Ok();
       }},
      {"--prefix",
       [](const std::string& f, const std::string& v, MockOptions& o) {
         if (v.empty() || v.front() != '/') return InvalidArgument(f + ": must start with '/'");
         o.prefix = v;
         while (o.prefix.size() > 1 && o.prefix.back() == '/') o.prefix.pop_back();
         return Status::Ok();
       }},
      {"--api-key",
       [](auto&, const std::string& v, MockOptions& o) {
         o.api_key = v;
         return Status::Ok();
       }},
  };
  return *flags;
}

}  // namespace

StatusOr<MockOptions> ParseMockOptions(const std::vector<std::string>& args) {
  MockOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> value;
    if (size_t eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    if (flag == "--help" || flag == "-h") {
      o.help = true;
      continue;
    }
    if (flag == "--no-usage" || flag == "--quiet") {
      if (value) return InvalidArgument(flag + " takes no value");
      (flag == "--quiet" ? o.quiet : o.no_usage) = true;
      continue;
    }
    auto it = ValueFlags().find(flag);
    if (it == ValueFlags().end()) return InvalidArgument("unknown flag '" + flag + "'");
    if (!value) {
      if (i + 1 >= args.size()) return InvalidArgument(flag + " needs a value");
      value = args[++i];
    }
    if (Status s = it->second(flag, *value, o); !s.ok()) return s;
  }
  return o;
}

const char* MockUsage() {
  return R"(usage: signalbox-mock [flags]

An OpenAI- and Anthropic-compatible test upstream with latency, streaming and fault
injection: chat, completions, embeddings, models, Responses and Messages.

  --listen HOST:PORT       address (default 127.0.0.1:8001; port 0 = any free port)
  --model NAME             model name in every response (default mock-model)
  --latency MS             delay before the first byte of every answer (default 0)
  --tokens N               completion tokens per answer (default 16; max_tokens caps it)
  --token-interval MS      pause between streamed chunks (default 0)
  --usage-prompt N         report prompt_tokens N instead of ceil(chars/4)
  --usage-completion N     report completion_tokens N instead of the tokens generated
  --usage-cached N         report N cached input tokens (Responses cached_tokens,
                           Messages cache_read_input_tokens, chat prompt_tokens_details)
  --usage-cache-write N    report N cache_creation_input_tokens (Messages)
  --no-usage               omit usage from every body and stream
  --fault SPEC             a fault applied to every API request (see README)
  --threads N              HTTP worker threads, one per open connection (default 64)
  --prefix PATH            also serve the API under PATH (default /v1)
  --api-key KEY            require 'Authorization: Bearer KEY', 'api-key: KEY' or
                           'x-api-key: KEY'
  --quiet                  no per-request log line on stderr
  --help                   this text

Per request headers: x-mock-fault, x-mock-tokens, x-mock-latency-ms,
x-mock-token-interval-ms, x-mock-usage (P,C[,CACHED[,CACHE_WRITE]] or none),
x-mock-tool-call (NAME: Responses and Messages answer with a call of that tool).
Faults: 400 401 403 404 500 502 503 529 429[:S] hang slow-first-byte:MS reset cut:N
stall:N error-event[:N] malformed:N empty-stream redirect none.
Test endpoints: GET /mock/stats, GET /mock/last-request, POST /mock/reset.
On start, one JSON line on stdout: {"event":"listening","address":...,"model":...}.
)";
}

}  // namespace signalbox::mock
