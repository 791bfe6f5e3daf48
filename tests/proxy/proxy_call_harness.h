// The request-path test harness of tests/proxy/: ProxyCall with a scripted transport, a
// recording exchange and a fake clock (proxy_call_test.cc, proxy_call_stream_test.cc).
#pragma once

#include <catch2/catch.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "config/loader.h"
#include "proxy/fakes.h"
#include "proxy/proxy_call.h"
#include "routing/request_facts.h"

namespace signalbox::testing {

using json = nlohmann::json;

inline constexpr const char* kConfig = R"(server:
  listen: 127.0.0.1:0
backends:
  - name: small
    url: http://small.invalid/v1
    model: small-model
    api: [chat, messages]
    price: {input_per_mtok: 1.0, output_per_mtok: 2.0}
    retries: 1
    timeouts: {total: 30s}
  - name: large
    url: http://large.invalid/v1
    model: large-model
    api: [chat, messages]
    price: {input_per_mtok: 10.0, output_per_mtok: 20.0}
    retries: 0
router:
  rules:
    - name: default
      route: [small, large]
)";

inline std::string ChatAnswer(const std::string& text, int in, int out) {
  return json{
      {"id", "c1"},
      {"object", "chat.completion"},
      {"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", text}}}}}},
      {"usage", {{"prompt_tokens", in}, {"completion_tokens", out}}}}
      .dump();
}

inline std::string Chunk(const std::string& text) {
  return "data: " + json{{"choices", {{{"index", 0}, {"delta", {{"content", text}}}}}}}.dump() +
         "\n\n";
}

inline std::string UsageChunk(int in, int out) {
  return "data: " +
         json{{"choices", json::array()},
              {"usage", {{"prompt_tokens", in}, {"completion_tokens", out}}}}
             .dump() +
         "\n\n";
}

inline std::string ChatBody(bool stream) {
  json j = {{"model", "auto"}, {"messages", {{{"role", "user"}, {"content", "hello there"}}}}};
  if (stream) j["stream"] = true;
  return j.dump();
}

// One gateway's worth of request-path state around fakes.
struct Harness {
  FakeClock clock;
  FakeTransport transport;
  RetryBudget retry_budget;
  BackendRegistry registry{clock};
  std::shared_ptr<const Snapshot> snap;
  std::unique_ptr<budget::SpendTracker> spend;

  Harness() {
    LoadResult lr = LoadConfigText(kConfig, "test.yaml");
    INFO((lr.errors.empty() ? "" : lr.errors.front()));
    REQUIRE(lr.config);
    snap = BuildSnapshot(std::move(*lr.config), registry, 1);
    auto t = budget::SpendTracker::Create(nullptr, clock);
    REQUIRE(t.ok());
    spend = std::move(t).value();
  }

  // The key's settled spend, in nano-USD.
  int64_t Spent() const {
    auto totals = spend->Totals();
    auto it = totals.keys.find("team");
    return it == totals.keys.end() ? 0 : it->second.day_nano_usd;
  }

  ProxyResult Send(FakeExchange& ex, const std::string& body, Endpoint ep = Endpoint::kChat,
                   budget::BudgetLimits limits = {}) {
    ParsedRequest req;
    auto err = ParseRequest(ep, body, &req);
    REQUIRE(!err);
    routing::RequestFacts facts = routing::FactsFromRequest(
        req, "", [](std::string_view) { return std::optional<std::string_view>(); });
    routing::Decision d = snap->router->Decide(facts, routing::BaseBudget(*snap->config));
    ProxyInput in;
    in.snap = snap.get();
    in.ex = &ex;
    in.req = &req;
    in.raw_body = body;
    in.decision = &d;
    in.request_id = "req-1";
    in.key_id = "team";
    in.start = clock.Now();
    in.limits = limits;
    ProxyServices svc{clock, transport, retry_budget, spend.get(), nullptr, nullptr};
    RetryBudget::Active active(retry_budget);
    return ProxyCall(svc, in).Run();
  }
};

inline json Error(const FakeExchange& ex) { return json::parse(ex.out)["error"]; }

}  // namespace signalbox::testing