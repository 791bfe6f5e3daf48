#include "proxy/proxy_call.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>
#include <random>

#include "common/log.h"
#include "openai/error.h"
#include "openai/json_edit.h"
#include "openai/response.h"
#include "proxy/relay.h"
#include "proxy/upstream_errors.h"

namespace signalbox {
namespace {

using SteadyClock = std::chrono::steady_clock;

int64_t CharsToTokens(int64_t chars) { return (chars + 3) / 4; }

// The ledger's id of one request: the x-request-id (which clients choose, and may reuse)
// made unique with a call id: this process's random 48-bit tag and a counter. A reused
// x-request-id therefore never makes the ledger ignore a later request's spend.
std::string LedgerRequestId(const std::string& request_id) {
  static const uint64_t tag = std::random_device{}() ^ (uint64_t{std::random_device{}()} << 16);
  static std::atomic<uint64_t> counter{0};
  return fmt::format("{}@{:012x}.{}", request_id, tag & 0xffffffffffffULL,
                     counter.fetch_add(1, std::memory_order_relaxed));
}

}  // namespace

std::string ProxyCall::UpstreamBody(const BackendConfig& b) const {
  std::vector<JsonEdit> edits;
  edits.push_back({"model", nlohmann::json(b.model).dump()});
  // Only chat and completions need asking for usage in a stream: Responses and Messages
  // always report it in their own events.
  Endpoint ep = in_.req->endpoint;
  if (in_.req->stream && (ep == Endpoint::kChat || ep == Endpoint::kCompletions)) {
    if (b.stream_usage) {
      nlohmann::json opts = nlohmann::json::object();
      auto it = in_.req->doc.find("stream_options");
      if (it != in_.req->doc.end() && it->is_object()) opts = *it;
      opts["include_usage"] = true;
      edits.push_back({"stream_options", opts.dump()});
    } else {
      edits.push_back({"stream_options", std::nullopt});
    }
  }
  return ApplyJsonEdits(in_.raw_body, in_.req->scan, edits);
}

std::vector<Header> ProxyCall::ResponseHeaders(const BackendConfig& b, bool with_cost) const {
  std::vector<Header> h = in_.headers;
  h.push_back({"x-signalbox-backend", b.name});
  if (with_cost) h.push_back({"x-signalbox-cost-usd", fmt::format("{:.8f}", result_.cost_usd)});
  return h;
}

void ProxyCall::Bill(AttemptLog& log, const BackendConfig& b, const std::optional<Usage>& usage,
                     int64_t output_chars, bool produced, bool complete) {
  // count_tokens is free upstream: never billed.
  if (!produced || in_.req->endpoint == Endpoint::kCountTokens) return;
  Usage u;
  if (usage) {
    u = *usage;
    log.estimated = false;
    // A cut stream: Messages reported its input at the start, and its output count only
    // at the end, so what was produced is billed by the text relayed.
    if (!complete) {
      int64_t relayed = CharsToTokens(output_chars);
      if (relayed > u.completion_tokens) {
        u.completion_tokens = relayed;
        log.estimated = true;
      }
    }
  } else {
    u.prompt_tokens = in_.decision->input_tokens;
    u.completion_tokens = CharsToTokens(output_chars);
    log.estimated = true;
  }
  log.input_tokens = u.prompt_tokens;
  log.output_tokens = u.completion_tokens;
  log.cost_usd = routing::UsageCost(b.price, u.prompt_tokens, u.cached_tokens, u.cache_write_tokens,
                                    u.completion_tokens);
  log.billed = true;
  result_.input_tokens += log.input_tokens;
  result_.output_tokens += log.output_tokens;
  result_.cost_usd += log.cost_usd;
}

void ProxyCall::RememberResponse(const std::string& id, const BackendConfig& b) {
  if (svc_.affinity == nullptr || id.empty()) return;
  svc_.affinity->Remember(id, dep_ != nullptr ? b.name + "/" + dep_->name() : b.name);
}

void ProxyCall::SettleBilled() {
  if (svc_.spend == nullptr) return;
  std::vector<budget::AttemptRecord> records;
  int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(svc_.clock.WallNow().time_since_epoch())
          .count();
  for (; settled_upto_ < result_.attempts.size(); ++settled_upto_) {
    const AttemptLog& a = result_.attempts[settled_upto_];
    if (!a.billed) continue;
    budget::AttemptRecord r;
    r.ts_ms = now_ms;
    if (ledger_id_.empty()) ledger_id_ = LedgerRequestId(in_.request_id);
    r.request_id = ledger_id_;
    r.attempt = a.number;
    r.key_id = in_.key_id;
    r.backend = a.backend;
    r.input_tokens = a.input_tokens;
    r.output_tokens = a.output_tokens;
    r.cost_usd = a.cost_usd;
    r.estimated = a.estimated;
    r.outcome = a.outcome;
    records.push_back(std::move(r));
  }
  if (records.empty()) return;
  Status s = svc_.spend->Settle(records);
  if (!s.ok()) {
    Log(LogLevel::kError, "ledger write failed; spend kept in memory and retried")
        .Field("request_id", in_.request_id)
        .Field("error", s.message());
  }
}

void ProxyCall::Settle() {
  if (settled_) return;
  settled_ = true;
  SettleBilled();
  reservation_.reset();
}

void ProxyCall::Finish(Final f, SseRelay* relay) {
  Settle();  // first: the spend is durable before the client sees the end
  result_.status = f.status;
  if (f.error) result_.error = std::string(CodeName(*f.error));
  switch (f.kind) {
    case Final::Kind::kRespond:
      in_.ex->Respond(f.status, f.headers, "application/json", std::move(f.body));
      break;
    case Final::Kind::kStreamOk:
      relay->FinishOk();
      break;
    case Final::Kind::kStreamError:
      relay->FinishWithError(f.body, CodeName(*f.error));
      break;
    case Final::Kind::kStreamAbort:
      in_.ex->StreamAbort();
      break;
    case Final::Kind::kNothing:
      break;
  }
}

void ProxyCall::AnswerError(ErrorCode code, std::string message, int retry_after_s) {
  ApiError e = MakeError(code, std::move(message), "", retry_after_s);
  std::vector<Header> h = in_.headers;
  if (!result_.backend.empty()) h.push_back({"x-signalbox-backend", result_.backend});
  if (e.retry_after_s > 0) h.push_back({"retry-after", std::to_string(e.retry_after_s)});
  if (e.no_retry) h.push_back({"x-should-retry", "false"});
  Finish(Final::Respond(e.status, code, std::move(h), ErrorBody(e, ShapeOf(in_.req->endpoint))));
}

void ProxyCall::Healthy() {
  dep_->state->circuit.OnSuccess(probe_);
  probe_ = false;
}

void ProxyCall::Unhealthy() {
  dep_->state->circuit.OnFailure(probe_);
  probe_ = false;
}

ProxyResult ProxyCall::Run() {
  const auto& cands = in_.decision->candidates;
  const Snapshot& snap = *in_.snap;
  // One deadline for the whole request: every attempt and backoff draws from it.
  const routing::Candidate* target = in_.decision->target();
  deadline_ = in_.start + snap.backends[target->backend_index].cfg->timeouts.total;
  // Never eject the last healthy candidate: when every usable candidate's circuit is
  // open, the first one is tried anyway (Envoy's panic threshold).
  bool all_open = true;
  for (const auto& c : cands) {
    if (!c.skipped && !snap.backends[c.backend_index].Unavailable()) all_open = false;
  }
  bool panic_available = all_open;
  std::string previous;
  for (const auto& c : cands) {
    if (c.skipped) {
      // Skipped by the router: a budget skip is recorded, so that a chain that ends at
      // an unaffordable fallback is answered as a budget refusal (429), not a 503.
      if (c.budget_skip() && !result_.attempts.empty()) {
        Fail(c.backend, c.reason, ErrorCode::kBudgetExceeded);
      }
      continue;
    }
    const SnapshotBackend& b = snap.backends[c.backend_index];
    if (!previous.empty()) result_.fallbacks.push_back({previous, b.cfg->name});
    bool panic = false;
    if (auto skip = AdmitCandidate(b, c, &panic_available, &panic)) {
      previous = b.cfg->name;
      result_.fallback_reasons.push_back(std::move(*skip));
      continue;
    }
    Verdict v = TryBackend(b, c, panic);
    if (v == Verdict::kDone || v == Verdict::kClientGone) return result_;
    if (v == Verdict::kStop) break;
    previous = b.cfg->name;
    result_.fallback_reasons.push_back(
        failures_.empty() ? "error" : std::string(CodeName(failures_.back().code)));
  }
  if (result_.attempts.empty() && TryDespiteCircuits()) return result_;
  AnswerAllFailed();
  return result_;
}

std::optional<std::string> ProxyCall::AdmitCandidate(const SnapshotBackend& b,
                                                     const routing::Candidate& c,
                                                     bool* panic_available, bool* panic) {
  // The backend as a whole, from its deployments' state (no side effects: a
  // deployment's circuit admits each attempt in TryBackend).
  BackendAvailability av = Availability(b);
  if (!av.healthy) {
    if (!*panic_available || av.all_rate_limited) {
      ErrorCode why = av.all_rate_limited ? ErrorCode::kRateLimited : ErrorCode::kCircuitOpen;
      Fail(b.cfg->name, av.all_rate_limited ? "rate limited" : "circuit open", why,
           av.retry_after_s);
      return std::string(CodeName(why));
    }
    *panic_available = false;
    *panic = true;
  }
  if (!av.below_max_concurrency) {
    Fail(b.cfg->name, "at its max_concurrency", ErrorCode::kMaxConcurrency, 1);
    return std::string(CodeName(ErrorCode::kMaxConcurrency));
  }
  // A fallback is budget-checked like the first candidate.
  if (Status s = ReserveFor(c); !s.ok()) {
    Fail(b.cfg->name, s.message(), ErrorCode::kBudgetExceeded);
    return "budget";
  }
  return std::nullopt;
}

Status ProxyCall::ReserveFor(const routing::Candidate& c) {
  if (svc_.spend == nullptr || !Billable()) return Status::Ok();
  // A new reservation for the candidate's own estimate replaces the previous one, after
  // whatever the earlier attempts were billed has been counted (so the check sees it).
  SettleBilled();
  reservation_.reset();
  auto res = svc_.spend->Reserve(in_.key_id, in_.limits, c.estimated_cost_usd);
  if (!res.ok()) return res.status();
  reservation_.emplace(std::move(res).value());
  return Status::Ok();
}

bool ProxyCall::TryDespiteCircuits() {
  // Nothing was tried and the only reasons were circuits (open, or another request's
  // probe in flight): never eject the last candidate, try the first one anyway.
  for (const auto& f : failures_) {
    if (f.code != ErrorCode::kCircuitOpen) return false;
  }
  for (const auto& c : in_.decision->candidates) {
    if (c.skipped) continue;
    const SnapshotBackend& b = in_.snap->backends[c.backend_index];
    const SnapshotDeployment* d =
        ChooseDeployment(b, std::vector<bool>(b.deployments.size()), Pick::kIgnoreHealth);
    if (d == nullptr) return false;
    if (!ReserveFor(c).ok()) return false;
    Verdict v = Attempt(b, *d, c);
    if (v == Verdict::kDone || v == Verdict::kClientGone) return true;
    return false;
  }
  return false;
}

void ProxyCall::AnswerAllFailed() {
  using E = ErrorCode;
  if (failures_.empty()) {
    AnswerError(E::kUpstreamUnavailable, "No backend is available for this request.", 1);
    return;
  }
  bool all_rate_limited = true, all_budget = true, any_auth = false, all_unavailable = true;
  int min_retry_after = 0;
  for (const auto& f : failures_) {
    if (f.code != E::kRateLimited) all_rate_limited = false;
    if (f.code != E::kBudgetExceeded) all_budget = false;
    if (f.code == E::kUpstreamAuthError) any_auth = true;
    if (f.status_hint != 503 && f.code != E::kRateLimited) all_unavailable = false;
    if (f.code == E::kRateLimited && f.retry_after_s > 0 &&
        (min_retry_after == 0 || f.retry_after_s < min_retry_after)) {
      min_retry_after = f.retry_after_s;
    }
  }
  std::string detail;
  for (const auto& f : failures_) {
    detail += fmt::format("{}{}: {}", detail.empty() ? "" : "; ", f.backend, f.what);
  }
  const Failure& last = failures_.back();
  if (all_rate_limited) {
    // Every candidate is rate limited: coming back later is the right move, so no
    // x-should-retry: false here.
    AnswerError(E::kRateLimitExceeded,
                fmt::format("Every backend for this request is rate limited ({}).", detail),
                std::max(1, min_retry_after));
  } else if (last.code == E::kShuttingDown) {
    AnswerError(E::kShuttingDown,
                "The gateway is shutting down and cancelled this request; retry it (another "
                "replica will answer).",
                1);
  } else if (all_budget || last.code == E::kBudgetExceeded) {
    // The chain ended at a candidate the budget cannot afford: that, not the earlier
    // failures, is why nothing answered.
    AnswerError(E::kBudgetExceeded, fmt::format("Budget exceeded: {} ({}).", last.what, detail));
  } else if (any_auth && last.code == E::kUpstreamAuthError) {
    AnswerError(E::kUpstreamAuthError,
                fmt::format("The gateway's credentials for its backends were rejected ({}). This "
                            "is a gateway configuration problem, not your API key.",
                            detail));
  } else if (all_unavailable) {
    AnswerError(E::kUpstreamUnavailable,
                fmt::format("No backend could take the request ({}).", detail), 1);
  } else if (last.status_hint == 504) {
    AnswerError(E::kUpstreamTimeout, fmt::format("The backends timed out ({}).", detail));
  } else {
    AnswerError(E::kUpstreamError, fmt::format("The backends failed ({}).", detail));
  }
}

}  // namespace signalbox
