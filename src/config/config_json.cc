#include "config/config_json.h"

#include "config/units.h"

namespace signalbox {
namespace {

using nlohmann::json;

json Redacted(const std::string& secret) { return secret.empty() ? json("") : json("[redacted]"); }

json Opt(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }
json OptInt(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }

// redis://:password@host:port/db with the password redacted.
std::string RedactedRedisUrl(const ClusterConfig& c) {
  if (c.password.empty()) return c.redis;
  auto at = c.redis.rfind('@');
  return "redis://:[redacted]" + c.redis.substr(at);
}

json Range(const std::optional<NumRange>& r) {
  if (!r) return nullptr;
  json j = json::object();
  if (r->gte) j["gte"] = *r->gte;
  if (r->lt) j["lt"] = *r->lt;
  return j;
}

const char* AuthName(AuthMode m) {
  switch (m) {
    case AuthMode::kBearer:
      return "bearer";
    case AuthMode::kApiKey:
      return "api-key";
    case AuthMode::kXApiKey:
      return "x-api-key";
    case AuthMode::kNone:
      return "none";
  }
  return "bearer";
}

json Apis(const BackendConfig& b) {
  json a = json::array();
  for (ApiFamily f : b.api) a.push_back(std::string(ApiFamilyName(f)));
  return a;
}

json Headers(const std::vector<std::pair<std::string, std::string>>& hs) {
  json headers = json::object();
  for (const auto& [k, v] : hs) headers[k] = v;
  return headers;
}

json Deployments(const BackendConfig& b) {
  json a = json::array();
  for (const auto& d : b.deployments) {
    a.push_back({{"name", d.name},
                 {"url", d.url},
                 {"api_key", Redacted(d.api_key)},
                 {"weight", d.weight},
                 {"headers", Headers(d.headers)}});
  }
  return a;
}

json Backend(const BackendConfig& b) {
  json headers = Headers(b.headers);
  return {{"name", b.name},
          {"url", b.url},
          {"model", b.model},
          {"api_key", Redacted(b.api_key)},
          {"price",
           {{"input_per_mtok", b.price.input_per_mtok},
            {"output_per_mtok", b.price.output_per_mtok},
            {"cached_input_per_mtok", Opt(b.price.cached_input_per_mtok)},
            {"cache_write_per_mtok", Opt(b.price.cache_write_per_mtok)}}},
          {"context_window", b.context_window},
          {"max_concurrency", b.max_concurrency},
          {"timeouts",
           {{"connect", FormatDuration(b.timeouts.connect)},
            {"first_byte", FormatDuration(b.timeouts.first_byte)},
            {"idle", FormatDuration(b.timeouts.idle)},
            {"total", FormatDuration(b.timeouts.total)}}},
          {"retries", b.retries},
          {"circuit",
           {{"failures", b.circuit.failures}, {"cooldown", FormatDuration(b.circuit.cooldown)}}},
          {"health_check",
           {{"interval", FormatDuration(b.health_check.interval)}, {"path", b.health_check.path}}},
          {"auth", AuthName(b.auth)},
          {"headers", headers},
          {"stream_usage", b.stream_usage},
          {"api", Apis(b)},
          {"deployments", Deployments(b)},
          {"balance", std::string(BalancePolicyName(b.balance))},
          {"affinity",
           b.affinity_header.empty() ? json(nullptr) : json("header:" + b.affinity_header)}};
}

json Rule(const RuleConfig& r) {
  json when = json::object();
  const WhenConfig& w = r.when;
  if (!w.tier.empty()) when["tier"] = w.tier;
  if (w.score) when["score"] = Range(w.score);
  if (!w.model.empty()) when["model"] = w.model;
  if (!w.key.empty()) when["key"] = w.key;
  if (!w.header.empty()) {
    json h = json::object();
    for (const auto& [k, v] : w.header) h[k] = v;
    when["header"] = h;
  }
  if (w.has_tools) when["has_tools"] = *w.has_tools;
  if (w.has_images) when["has_images"] = *w.has_images;
  if (w.stream) when["stream"] = *w.stream;
  if (w.input_tokens) when["input_tokens"] = Range(w.input_tokens);
  return {{"name", r.name}, {"when", when}, {"route", r.route}};
}

}  // namespace

json ConfigToJson(const Config& c) {
  const ServerConfig& s = c.server;
  json j;
  j["server"] = {{"listen", s.listen},
                 {"admin_token", Redacted(s.admin_token)},
                 {"max_body_bytes", s.max_body_bytes},
                 {"max_streams", s.max_streams},
                 {"max_headers", s.max_headers},
                 {"max_header_bytes", s.max_header_bytes},
                 {"max_connections", s.max_connections},
                 {"response_affinity_entries", s.response_affinity_entries},
                 {"min_body_rate", s.min_body_rate},
                 {"lingering_close",
                  {{"time", FormatDuration(s.lingering_close.time)},
                   {"idle", FormatDuration(s.lingering_close.idle)},
                   {"max_bytes", s.lingering_close.max_bytes}}},
                 {"access_log", s.access_log},
                 {"sse_heartbeat", FormatDuration(s.sse_heartbeat)},
                 {"forwarded_for", s.forwarded_for == ForwardedFor::kReplace  ? "replace"
                                   : s.forwarded_for == ForwardedFor::kAppend ? "append"
                                                                              : "none"},
                 {"retry_budget", {{"ratio", s.retry_budget.ratio}, {"min", s.retry_budget.min}}},
                 {"timeouts",
                  {{"read", FormatDuration(s.timeouts.read)},
                   {"write", FormatDuration(s.timeouts.write)},
                   {"idle", FormatDuration(s.timeouts.idle)},
                   {"drain", FormatDuration(s.timeouts.drain)},
                   {"header", FormatDuration(s.timeouts.header)},
                   {"body", FormatDuration(s.timeouts.body)}}}};
  j["backends"] = json::array();
  for (const auto& b : c.backends) j["backends"].push_back(Backend(b));
  json signals = json::object();
  for (const auto& [k, v] : c.classifier.signal_weights) signals[k] = v;
  json tiers = json::object();
  for (const auto& [k, v] : c.classifier.tiers) tiers[k] = v;
  json keywords = json::object();
  for (const auto& [k, v] : c.classifier.keywords) keywords[k] = v;
  j["classifier"] = {{"signals", signals}, {"keywords", keywords}, {"tiers", tiers}};
  json keys = json::array();
  for (const auto& k : c.budgets.keys) {
    keys.push_back({{"id", k.id},
                    {"key_sha256", "[redacted]"},
                    {"daily_usd", Opt(k.daily_usd)},
                    {"monthly_usd", Opt(k.monthly_usd)},
                    {"rpm", OptInt(k.rpm)},
                    {"tpm", OptInt(k.tpm)},
                    {"max_parallel", OptInt(k.max_parallel)},
                    {"models", k.models ? json(*k.models) : json(nullptr)}});
  }
  j["budgets"] = {{"ledger_path", c.budgets.ledger_path},
                  {"request_max_usd", Opt(c.budgets.request_max_usd)},
                  {"default_output_tokens", c.budgets.default_output_tokens},
                  {"on_exceed", c.budgets.on_exceed == OnExceed::kReject ? "reject" : "downgrade"},
                  {"keys", keys}};
  j["cluster"] = {
      {"redis", RedactedRedisUrl(c.cluster)},
      {"on_unavailable", c.cluster.on_unavailable == OnUnavailable::kReject ? "reject" : "local"},
      {"timeout", FormatDuration(c.cluster.timeout)},
      {"lease", FormatDuration(c.cluster.lease)},
      {"key_prefix", c.cluster.key_prefix},
      {"affinity_ttl", FormatDuration(c.cluster.affinity_ttl)}};
  json rules = json::array();
  for (const auto& r : c.router.rules) rules.push_back(Rule(r));
  j["router"] = {{"virtual_models", c.router.virtual_models},
                 {"allow_explicit_models", c.router.allow_explicit_models},
                 {"rules", rules}};
  return j;
}

}  // namespace signalbox
