#include "proxy/gateway.h"

#include <fmt/format.h>
#include <openssl/crypto.h>

#include <charconv>
#include <cmath>
#include <random>

#include "common/json_writer.h"
#include "common/log.h"
#include "proxy/gateway_admission.h"
#include "routing/decision_json.h"
#include "routing/request_facts.h"

namespace signalbox {
namespace {

constexpr size_t kMaxTokenBytes = 4096;
constexpr std::string_view kCostCapHeader = "x-signalbox-max-cost-usd";

ApiError Unauthorized(std::string message) {
  return MakeError(ErrorCode::kInvalidApiKey, std::move(message));
}

// The token of "Authorization: Bearer <token>", or nullopt.
std::optional<std::string_view> BearerToken(std::optional<std::string_view> auth) {
  if (!auth) return std::nullopt;
  std::string_view v = *auth;
  if (v.size() < 7) return std::nullopt;
  std::string scheme(v.substr(0, 7));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "bearer ") return std::nullopt;
  v.remove_prefix(7);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  return v;
}

// The caller's gateway key: `Authorization: Bearer <key>`, or Anthropic's `x-api-key`.
template <typename Head>
std::optional<std::string_view> ClientKey(const Head& head) {
  if (auto t = BearerToken(head.header("Authorization"))) return t;
  auto x = head.header("x-api-key");
  if (x && !x->empty()) return x;
  return std::nullopt;
}

// The api label of a path that is one of the proxied APIs, else "".
std::string_view ApiLabelForPath(std::string_view path) {
  if (path == "/v1/chat/completions") return ApiLabel(Endpoint::kChat);
  if (path == "/v1/completions") return ApiLabel(Endpoint::kCompletions);
  if (path == "/v1/embeddings") return ApiLabel(Endpoint::kEmbeddings);
  if (path == "/v1/responses") return ApiLabel(Endpoint::kResponses);
  if (path == "/v1/messages" || path == "/v1/messages/count_tokens")
    return ApiLabel(Endpoint::kMessages);
  return "";
}

bool SafeRequestId(std::string_view v) {
  if (v.empty() || v.size() > 128) return false;
  for (char c : v) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
          c == ':'))
      return false;
  }
  return true;
}

std::string FormatScore(double s) { return fmt::format("{}", s); }

ApiError ModelNotAllowed(const KeyEntry& key, const std::string& model) {
  std::string allowed;
  for (const auto& m : *key.models) allowed += (allowed.empty() ? "" : ", ") + m;
  return MakeError(
      ErrorCode::kModelNotAllowed,
      fmt::format("Key '{}' may not use model '{}' (allowed: {}).", key.id, model, allowed),
      "model");
}

}  // namespace

// An AffinityMap value is "backend/deployment" (a bare "backend" from before deployments
// still works): the backend goes to the router, the deployment to the balancer.
std::string_view AffinityBackend(std::string_view value, std::string* deployment) {
  size_t slash = value.find('/');
  if (slash == std::string_view::npos) return value;
  *deployment = std::string(value.substr(slash + 1));
  return value.substr(0, slash);
}

std::string RequestIdFor(std::optional<std::string_view> client_value) {
  if (client_value && SafeRequestId(*client_value)) return std::string(*client_value);
  thread_local std::mt19937_64 rng(std::random_device{}() ^
                                   (uint64_t(std::random_device{}()) << 32));
  return fmt::format("req_{:016x}{:08x}", rng(), static_cast<uint32_t>(rng()));
}

Gateway::Gateway(GatewayDeps deps) : d_(std::move(deps)), transport_(d_.transport) {
  if (transport_ == nullptr) {
    own_transport_ = std::make_unique<HttpTransport>(*d_.watchdog);
    transport_ = own_transport_.get();
  }
}

std::optional<ApiError> Gateway::Gate(const RequestHead& head) const {
  std::string_view path = head.path();
  auto snap = d_.store->Current();
  if (path.substr(0, 7) == "/admin/") {
    const std::string& admin = snap->config->server.admin_token;
    if (admin.empty()) return std::nullopt;
    auto token = BearerToken(head.header("Authorization"));
    bool ok = token && token->size() == admin.size() &&
              CRYPTO_memcmp(token->data(), admin.data(), admin.size()) == 0;
    if (!ok)
      return Unauthorized("Admin endpoints need Authorization: Bearer <server.admin_token>.");
    return std::nullopt;
  }
  if (path.substr(0, 4) != "/v1/" || !snap->keys_configured()) return std::nullopt;
  auto token = ClientKey(head);
  if (!token) {
    return Unauthorized(head.header("Authorization")
                            ? "Malformed Authorization header: send Authorization: Bearer <key> "
                              "(or x-api-key: <key>)."
                            : "Missing API key: send Authorization: Bearer <key> (or x-api-key: "
                              "<key>).");
  }
  if (token->size() > kMaxTokenBytes || snap->FindKey(*token) == nullptr) {
    return Unauthorized("Incorrect API key provided.");
  }
  return std::nullopt;
}

std::string Gateway::KeyId(const Snapshot& snap, const Exchange& ex) const {
  if (!snap.keys_configured()) return std::string(budget::kAnonymousKeyId);
  auto token = ClientKey(ex);
  if (!token || token->size() > kMaxTokenBytes) return "";
  const KeyEntry* k = snap.FindKey(*token);
  return k ? k->id : "";
}

std::optional<ApiError> Gateway::BudgetView(const Snapshot& snap, const Exchange& ex,
                                            const std::string& key_id, routing::BudgetView* out,
                                            budget::BudgetLimits* limits) const {
  *out = routing::BaseBudget(*snap.config);
  // Every copy of the header counts and the lowest cap wins: a front proxy that appends
  // a lower cap to a client's own must not be ignored (docs/security.md).
  bool bad_cap = false;
  ex.ForEachHeader([&](std::string_view name, std::string_view value) {
    if (name.size() == kCostCapHeader.size() &&
        std::equal(name.begin(), name.end(), kCostCapHeader.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        })) {
      bad_cap |= !routing::ApplyCostCapHeader(value, out);
    }
  });
  if (bad_cap) {
    return InvalidRequest(ErrorCode::kInvalidHeader,
                          "x-signalbox-max-cost-usd must be a non-negative number of USD",
                          "x-signalbox-max-cost-usd");
  }
  if (const KeyEntry* k = snap.KeyById(key_id)) {
    limits->daily_usd = k->daily_usd;
    limits->monthly_usd = k->monthly_usd;
    if (d_.cluster != nullptr) {
      budget::BudgetRemaining r = d_.cluster->Remaining(key_id, *limits);
      out->day_remaining_usd = r.day_usd;
      out->month_remaining_usd = r.month_usd;
    } else if (d_.spend != nullptr) {
      budget::BudgetRemaining r = d_.spend->Remaining(key_id, *limits);
      out->day_remaining_usd = r.day_usd;
      out->month_remaining_usd = r.month_usd;
    }
  }
  return std::nullopt;
}

void Gateway::Reply(Exchange& ex, const std::vector<Header>& headers, const ApiError& e) const {
  std::vector<Header> h = headers;
  if (e.retry_after_s > 0) h.push_back({"retry-after", std::to_string(e.retry_after_s)});
  if (e.no_retry) h.push_back({"x-should-retry", "false"});
  ex.Respond(e.status, h, "application/json", ErrorBody(e, ErrorShapeForPath(ex.path())));
}

void Gateway::HandleProxy(Exchange& ex, Endpoint ep) {
  Admission a(*this);
  a.req.endpoint = ep;
  a.in.start = d_.clock->Now();
  RetryBudget::Active active(*d_.retry_budget);
  try {
    Proxy(ex, ep, a);
  } catch (const std::exception& e) {
    // A bug, not a client error: the data plane lets no exception escape, and the
    // Admission above still balances every gauge and writes the access-log line.
    Log(LogLevel::kError, "request failed")
        .Field("request_id", a.in.request_id)
        .Field("error", e.what());
    a.result.status = 500;
    a.result.error = std::string(CodeName(ErrorCode::kInternal));
    if (!ex.committed()) {
      Reply(ex, a.in.headers,
            MakeError(ErrorCode::kInternal, "The gateway failed to handle the request."));
    }
  }
}

void Gateway::Proxy(Exchange& ex, Endpoint ep, Admission& a) {
  ProxyInput& in = a.in;
  ParsedRequest& req = a.req;
  auto snap = d_.store->Current();
  in.snap = snap.get();
  in.ex = &ex;
  in.raw_body = ex.body();
  in.request_id = RequestIdFor(ex.header("x-request-id"));
  in.headers.push_back({"x-request-id", in.request_id});
  const KeyEntry* key = nullptr;
  auto fail = [&](const ApiError& e) {
    // Every response of a limited key carries its limit headers.
    if (key != nullptr && !a.limit_headers && (d_.limiter != nullptr || d_.cluster != nullptr) &&
        (key->rate.rpm || key->rate.tpm)) {
      AddLimitHeaders(LimitState(*key), &in.headers);
      a.limit_headers = true;
    }
    Reply(ex, in.headers, e);
    a.result.status = e.status;
    a.result.error = e.code.empty() ? e.type : e.code;
  };
  // The key first: even a malformed request of a limited key gets its limit headers.
  in.key_id = KeyId(*snap, ex);
  if (in.key_id.empty()) return fail(Unauthorized("Incorrect API key provided."));
  key = snap->KeyById(in.key_id);
  if (auto e = ParseRequest(ep, ex.body(), &req)) return fail(*e);
  in.req = &req;
  if (key != nullptr && !key->Allows(req.model)) return fail(ModelNotAllowed(*key, req.model));
  routing::BudgetView bv;
  if (auto e = BudgetView(*snap, ex, in.key_id, &bv, &in.limits)) return fail(*e);

  if (ep == Endpoint::kCountTokens) bv = routing::BudgetView{};  // free: never refused for money
  Route(*snap, ex, bv, a);
  if (a.decision.kind == routing::Decision::Kind::kNoApi && ep == Endpoint::kCountTokens) {
    return AnswerTokenCount(ex, a);  // count_tokens has an answer of its own
  }
  if (auto e = RefusalOf(a)) return fail(*e);
  if (d_.cluster != nullptr) {
    if (auto e = AdmitCluster(key, a)) return fail(*e);
  } else if (key != nullptr && key->rate.any() && d_.limiter != nullptr) {
    if (auto e = AdmitLimits(*key, a)) return fail(*e);
  }
  if (auto e = AdmitStream(*snap, a)) return fail(*e);
  in.forward_headers = ForwardableHeaders(ex, snap->config->server.forwarded_for);
  in.beta = ex.query_param("beta") == std::optional<std::string_view>("true");
  ProxyServices svc{*d_.clock, *transport_, *d_.retry_budget, d_.spend, d_.metrics, d_.affinity};
  a.result = ProxyCall(svc, in).Run();
}

void Gateway::Route(const Snapshot& snap, const Exchange& ex, const routing::BudgetView& bv,
                    Admission& a) const {
  ProxyInput& in = a.in;
  routing::RequestFacts facts = routing::FactsFromRequest(
      a.req, snap.keys_configured() ? std::string_view(in.key_id) : std::string_view(),
      [&ex](std::string_view n) { return ex.header(n); });
  std::optional<std::string> affinity = AffinityFor(a.req);
  if (affinity) facts.affinity_backend = AffinityBackend(*affinity, &in.affinity_deployment);
  auto t0 = d_.clock->Now();
  routing::Decision& decision = a.decision;
  decision = snap.router->Decide(facts, bv);
  a.decided = true;
  if (decision.classified && d_.metrics) {
    d_.metrics->classifier_seconds->WithLabels({}).Observe(
        std::chrono::duration<double>(d_.clock->Now() - t0).count());
  }
  in.decision = &decision;
  if (!decision.rule.empty()) in.headers.push_back({"x-signalbox-rule", decision.rule});
  if (decision.classified) {
    in.headers.push_back({"x-signalbox-tier", decision.classification.tier});
    in.headers.push_back({"x-signalbox-score", FormatScore(decision.classification.score)});
  }
}

std::optional<ApiError> Gateway::RefusalOf(const Admission& a) const {
  const routing::Decision& d = a.decision;
  switch (d.kind) {
    case routing::Decision::Kind::kNotFound: {
      ApiError e = ModelNotFound(a.req.model);
      if (!d.message.empty()) e.message = d.message;
      return e;
    }
    case routing::Decision::Kind::kBudgetRejected:
      Log(LogLevel::kInfo, "budget refusal")
          .Field("request_id", a.in.request_id)
          .Field("key", a.in.key_id)
          .Field("budget", d.budget_code);
      return MakeError(ErrorCode::kBudgetExceeded, d.message);
    case routing::Decision::Kind::kNoFit:
      return InvalidRequest(ErrorCode::kContextLengthExceeded, d.message, "messages");
    case routing::Decision::Kind::kNoApi:
      return MakeError(ErrorCode::kApiNotServed, d.message);
    default:
      return std::nullopt;
  }
}

std::optional<ApiError> Gateway::AdmitStream(const Snapshot& snap, Admission& a) {
  if (!a.req.stream) return std::nullopt;
  const int max = snap.config->server.max_streams;
  if (streams_.fetch_add(1) >= max) {
    streams_.fetch_sub(1);
    return MakeError(
        ErrorCode::kTooManyStreams,
        fmt::format("The gateway is serving its maximum of {} concurrent streams; retry shortly.",
                    max),
        "", 1);
  }
  a.stream_slot = true;
  return std::nullopt;
}

std::optional<std::string> Gateway::AffinityFor(const ParsedRequest& req) const {
  if (d_.affinity == nullptr || req.previous_response_id.empty()) return std::nullopt;
  return d_.affinity->Lookup(req.previous_response_id);
}

void Gateway::AnswerTokenCount(Exchange& ex, Admission& a) const {
  std::string body;
  JsonWriter w(body);
  w.BeginObject().Field("input_tokens", a.decision.input_tokens).EndObject();
  a.result.status = 200;
  ex.Respond(200, a.in.headers, "application/json", std::move(body));
}

std::vector<Header> Gateway::OnRefusal(const RequestHead& head, const ApiError& e) const {
  std::string rid = RequestIdFor(head.header("x-request-id"));
  std::string_view path = head.path();
  // Health and metrics endpoints are never refused; only count API and admin traffic.
  if (d_.metrics) {
    d_.metrics->requests
        ->WithLabels({"", "", "", std::to_string(e.status), std::string(ApiLabelForPath(path))})
        .Inc();
  }
  if (d_.access_log &&
      (path.substr(0, 4) == "/v1/" || path.substr(0, 7) == "/admin/" || e.status != 404)) {
    metrics::AccessRecord a;
    a.request_id = rid;
    a.status = e.status;
    a.error = e.code.empty() ? e.type : e.code;
    d_.access_log->Write(a);
  }
  return {{"x-request-id", rid}};
}

}  // namespace signalbox
