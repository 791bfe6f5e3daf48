// The attempts of a ProxyCall on one candidate backend: which deployment takes each
// attempt (upstream/balancer.h), when another deployment is tried before the route's next
// backend, and the bookkeeping every attempt gets on every exit path (the deployment's
// in-flight count, its half-open probe, the per-deployment metric).
#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "metrics/gateway_metrics.h"
#include "proxy/proxy_call.h"
#include "upstream/balancer.h"

namespace signalbox {
namespace {

// Full-jitter exponential backoff for a retry of the same deployment (100 ms base, 2 s cap).
std::chrono::milliseconds Backoff(int retry) {
  thread_local std::mt19937 rng(std::random_device{}());
  int64_t cap = std::min<int64_t>(2000, 100LL << std::min(retry, 5));
  return std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, cap)(rng));
}

// Hands an unresolved half-open probe back when an attempt ends without a circuit verdict
// (its client left, the gateway shut down, it was never sent), so that the next request
// can probe instead.
class ProbeRelease {
 public:
  ProbeRelease(bool& probe, const SnapshotDeployment& d) : probe_(probe), d_(d) {}
  ~ProbeRelease() {
    if (probe_) d_.state->circuit.ReleaseProbe();
    probe_ = false;
  }
  ProbeRelease(const ProbeRelease&) = delete;
  ProbeRelease& operator=(const ProbeRelease&) = delete;

 private:
  bool& probe_;
  const SnapshotDeployment& d_;
};

bool BelowMax(const SnapshotBackend& b, const SnapshotDeployment& d) {
  return d.state->inflight.load(std::memory_order_relaxed) < b.cfg->max_concurrency;
}

}  // namespace

ProxyCall::BackendAvailability ProxyCall::Availability(const SnapshotBackend& b) const {
  BackendAvailability av;
  av.all_rate_limited = true;
  for (const auto& d : b.deployments) {
    const CircuitBreaker& c = d.state->circuit;
    int limited = c.RateLimitedSeconds();
    if (limited == 0) {
      av.all_rate_limited = false;
      av.below_max_concurrency |= BelowMax(b, d);
    } else if (av.retry_after_s == 0 || limited < av.retry_after_s) {
      av.retry_after_s = limited;
    }
    av.healthy |= !c.Unavailable();
  }
  if (!av.all_rate_limited) av.retry_after_s = 0;
  return av;
}

const SnapshotDeployment* ProxyCall::ChooseDeployment(const SnapshotBackend& b,
                                                      const std::vector<bool>& tried, Pick mode) {
  const size_t n = b.deployments.size();
  // Up to 64 deployments without a heap allocation.
  constexpr size_t kInline = 64;
  DeploymentOption inline_opts[kInline];
  std::vector<DeploymentOption> heap;
  DeploymentOption* opts = inline_opts;
  if (n > kInline) {
    heap.resize(n);
    opts = heap.data();
  }
  int pinned = -1;
  for (size_t i = 0; i < n; ++i) {
    const SnapshotDeployment& d = b.deployments[i];
    const CircuitBreaker& c = d.state->circuit;
    DeploymentOption& o = opts[i];
    o.weight = static_cast<uint32_t>(d.dep->weight);
    o.inflight = d.state->inflight.load(std::memory_order_relaxed);
    o.usable = !tried[i] && o.inflight < b.cfg->max_concurrency && c.RateLimitedSeconds() == 0;
    o.healthy = mode == Pick::kIgnoreHealth ? false : !c.Unavailable();
    o.id_hash = d.id_hash;
    if (!in_.affinity_deployment.empty() && d.name() == in_.affinity_deployment &&
        in_.decision->affinity == b.cfg->name) {
      pinned = static_cast<int>(i);
    }
  }
  // The session's key: the backend's affinity header, when the request carries it.
  std::optional<uint64_t> affinity;
  if (!b.cfg->affinity_header.empty()) {
    if (auto v = in_.ex->header(b.cfg->affinity_header); v && !v->empty())
      affinity = AffinityHash(*v);
  }
  for (size_t round = 0; round < n; ++round) {
    BalancerPick pick;
    // A Responses follow-up goes to the deployment holding its previous response while
    // that one can take it.
    if (pinned >= 0 && opts[pinned].usable && (opts[pinned].healthy || mode == Pick::kIgnoreHealth))
      pick.index = pinned;
    else {
      uint64_t ticket = b.cfg->balance == BalancePolicy::kRoundRobin
                            ? b.state->round_robin.fetch_add(1, std::memory_order_relaxed)
                            : 0;
      pick = PickDeployment(std::span<const DeploymentOption>(opts, n), b.cfg->balance, affinity,
                            ticket, ThreadRng());
    }
    if (pick.index < 0) return nullptr;
    const SnapshotDeployment& d = b.deployments[pick.index];
    probe_ = false;
    if (mode == Pick::kIgnoreHealth) return &d;
    if (pick.panic && mode != Pick::kAdmitOrPanic) return nullptr;
    CircuitBreaker::Admission adm = d.state->circuit.Admit();
    if (adm.allowed) {
      probe_ = adm.probe;
      return &d;
    }
    // Panic: every deployment is ejected; one is tried anyway, never a rate-limited one.
    if (pick.panic && adm.retry_after_s == 0) return &d;
    opts[pick.index].usable = false;  // refused since it was read (a race): pick again
  }
  return nullptr;
}

bool ProxyCall::HasUntriedHealthy(const SnapshotBackend& b, const std::vector<bool>& tried) const {
  for (size_t i = 0; i < b.deployments.size(); ++i) {
    const SnapshotDeployment& d = b.deployments[i];
    if (!tried[i] && BelowMax(b, d) && !d.state->circuit.Unavailable()) return true;
  }
  return false;
}

std::string ProxyCall::Target(const SnapshotBackend& b) const {
  if (dep_ == nullptr || !b.cfg->listed_deployments) return b.cfg->name;
  return b.cfg->name + "/" + dep_->name();
}

ProxyCall::Verdict ProxyCall::TryBackend(const SnapshotBackend& b, const routing::Candidate& c,
                                         bool panic) {
  std::vector<bool> tried(b.deployments.size());
  int retries_left = b.cfg->retries;
  int retry_number = 0;
  const SnapshotDeployment* same = nullptr;  // set: retry this deployment (after a backoff)
  Verdict v = Verdict::kNext;
  for (;;) {
    const SnapshotDeployment* d = same;
    if (d == nullptr) {
      bool first = std::find(tried.begin(), tried.end(), true) == tried.end();
      d = ChooseDeployment(b, tried, first && panic ? Pick::kAdmitOrPanic : Pick::kAdmit);
      if (d == nullptr) {
        if (first) {
          // Every deployment refused between the check and the pick (another request's
          // probe went out): like an open circuit.
          Fail(b.cfg->name, "circuit open", ErrorCode::kCircuitOpen);
        }
        return v;
      }
    }
    ProbeRelease probe_release(probe_, *d);
    bool retry = !result_.attempts.empty();
    if (retry && !svc_.retry_budget.TryAcquire()) {
      Fail(b.cfg->name, "retry budget exhausted (too many concurrent retries)",
           ErrorCode::kRetryBudget, 1);
      return Verdict::kStop;
    }
    if (svc_.clock.Now() >= deadline_) {
      if (retry) svc_.retry_budget.Release();
      Fail(b.cfg->name, "the request deadline passed", ErrorCode::kTimeout);
      return Verdict::kStop;
    }
    v = Attempt(b, *d, c);
    if (retry) svc_.retry_budget.Release();
    tried[d - b.deployments.data()] = true;
    if (v != Verdict::kRetry && v != Verdict::kNext) return v;
    // A failed attempt moves to another healthy copy at once (no backoff: a different
    // server), then retries the last one with backoff while `retries` allow.
    same = nullptr;
    if (HasUntriedHealthy(b, tried)) continue;
    if (v != Verdict::kRetry || retries_left == 0) return v;
    --retries_left;
    auto wait = Backoff(retry_number++);
    if (svc_.clock.Now() + wait >= deadline_) return v;
    svc_.clock.SleepFor(wait);
    same = d;
  }
}

ProxyCall::Verdict ProxyCall::Attempt(const SnapshotBackend& b, const SnapshotDeployment& d,
                                      const routing::Candidate&) {
  // The log is part of the result before the attempt runs: the attempt settles the
  // request's spend itself at the moment its answer is final.
  result_.attempts.emplace_back();
  AttemptLog& log = result_.attempts.back();
  log.backend = b.cfg->name;
  log.deployment = d.name();
  log.number = static_cast<int>(result_.attempts.size());
  result_.backend = b.cfg->name;
  result_.deployment = d.name();
  dep_ = &d;
  auto now = svc_.clock.Now();
  const BackendTimeouts& t = b.cfg->timeouts;
  UpstreamRequest ur;
  ur.backend = &d.cfg;
  ur.pool = d.pool.get();
  ur.path = d.cfg.base_path + std::string(EndpointPath(in_.req->endpoint));
  // Claude Code calls /v1/messages?beta=true: the flag travels on, no other query does.
  if (in_.beta && FamilyOf(in_.req->endpoint) == ApiFamily::kMessages) ur.path += "?beta=true";
  ur.body = UpstreamBody(*b.cfg);
  ur.stream = in_.req->stream;
  ur.request_id = in_.request_id;
  ur.client_headers = &in_.forward_headers;
  ur.deadline = std::min(deadline_, now + t.total);
  ur.first_byte_deadline = now + t.first_byte;
  ur.idle = t.idle;
  ur.client_fd = in_.ex->client_fd();
  Verdict v;
  {
    InflightGuard inflight(*d.state);  // released on every exit, an exception's too
    v = in_.req->stream ? AttemptStream(b, ur, log) : AttemptPlain(b, ur, log);
  }
  if (svc_.metrics != nullptr) {
    svc_.metrics->deployment_attempts
        ->WithLabels({b.cfg->name, d.name(), log.outcome.empty() ? "error" : log.outcome})
        .Inc();
  }
  return v;
}

}  // namespace signalbox
