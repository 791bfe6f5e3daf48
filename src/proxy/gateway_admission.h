// Gateway::Admission: one proxied request's bookkeeping (internal to proxy/, shared by
// gateway.cc and gateway_limits.cc).
#pragma once

#include <vector>

#include "proxy/gateway.h"

namespace signalbox {

// One proxied request's bookkeeping, released on every exit path — a return, an answer,
// an exception: the in-flight gauge, the stream slot, one requests_total count and one
// access-log line. One per request.
struct Gateway::Admission {
  const Gateway& gw;
  ProxyInput in;
  ParsedRequest req;
  routing::Decision decision;
  ProxyResult result;
  bool decided = false;
  bool stream_slot = false;
  bool limit_headers = false;             // the x-ratelimit-* headers are in in.headers
  budget::RateTicket ticket;              // the key's rpm/tpm/max_parallel hold
  cluster::ClusterTicket cluster_ticket;  // the same, and the budget, with cluster.redis

  explicit Admission(const Gateway& g) : gw(g) {
    if (gw.d_.metrics) gw.d_.metrics->inflight_requests->WithLabels({}).Add(1);
  }
  ~Admission() {
    // The tokens the upstreams reported (0 when nothing was billed) replace the estimate.
    ticket.Finish(result.input_tokens + result.output_tokens);
    gw.SettleCluster(*this);
    if (stream_slot) gw.streams_.fetch_sub(1);
    gw.Record(in, &req, decided ? &decision : nullptr, result, req.stream);
    if (gw.d_.metrics) gw.d_.metrics->inflight_requests->WithLabels({}).Add(-1);
  }
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;
};

// An AffinityMap value is "backend/deployment" (or a bare "backend"): returns the backend
// and sets *deployment.
std::string_view AffinityBackend(std::string_view value, std::string* deployment);

// OpenAI's x-ratelimit-* headers for the limits a key has.
void AddLimitHeaders(const budget::RateLimitState& st, std::vector<Header>* h);

}  // namespace signalbox
