// Health, readiness, metrics and the admin endpoints of the Gateway.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "budget/spend_report.h"
#include "config/config_json.h"
#include "metrics/text_format.h"
#include "proxy/gateway.h"

namespace signalbox {
namespace {

using nlohmann::json;

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  return metrics::FormatRfc3339Millis(t);
}

json BackendHealth(const Snapshot& snap) {
  json arr = json::array();
  for (const auto& b : snap.backends) {
    // The backend's circuit is its first healthy deployment's (its only one without
    // `deployments`); each deployment has its own below.
    const SnapshotDeployment* shown = &b.deployments.front();
    int inflight = 0, failures = 0;
    json deps = json::array();
    for (const auto& d : b.deployments) {
      const CircuitBreaker& c = d.state->circuit;
      if (!c.Unavailable() && shown->state->circuit.Unavailable()) shown = &d;
      inflight += d.state->inflight.load();
      failures = std::max(failures, c.consecutive_failures());
      deps.push_back({{"name", d.name()},
                      {"circuit", std::string(CircuitStateName(c.state()))},
                      {"up", !c.Unavailable()},
                      {"consecutive_failures", c.consecutive_failures()},
                      {"inflight", d.state->inflight.load()}});
    }
    arr.push_back({{"name", b.cfg->name},
                   {"circuit", std::string(CircuitStateName(shown->state->circuit.state()))},
                   {"up", !b.Unavailable()},
                   {"consecutive_failures", failures},
                   {"inflight", inflight},
                   {"deployments", std::move(deps)}});
  }
  return arr;
}

json ReloadJson(const ReloadResult& r) {
  return {{"ok", r.ok},
          {"version", r.version},
          {"trigger", r.trigger},
          {"at", Rfc3339(r.at)},
          {"unchanged", r.unchanged},
          {"errors", r.errors},
          {"warnings", r.warnings}};
}

}  // namespace

void Gateway::Register(HttpServer& server) {
  server.Post("/v1/chat/completions", [this](Exchange& ex) { HandleProxy(ex, Endpoint::kChat); });
  server.Post("/v1/completions", [this](Exchange& ex) { HandleProxy(ex, Endpoint::kCompletions); });
  server.Post("/v1/embeddings", [this](Exchange& ex) { HandleProxy(ex, Endpoint::kEmbeddings); });
  server.Post("/v1/responses", [this](Exchange& ex) { HandleProxy(ex, Endpoint::kResponses); });
  server.Post("/v1/messages", [this](Exchange& ex) { HandleProxy(ex, Endpoint::kMessages); });
  server.Post("/v1/messages/count_tokens",
              [this](Exchange& ex) { HandleProxy(ex, Endpoint::kCountTokens); });
  server.Get("/v1/models", [this](Exchange& ex) { HandleModels(ex); });
  server.Post("/v1/route", [this](Exchange& ex) { HandleRoute(ex); });
  auto live = [](Exchange& ex) { ex.Respond(200, {}, "application/json", R"({"status":"ok"})"); };
  server.Get("/healthz", live);
  server.Get("/livez", live);
  server.Get("/readyz", [this](Exchange& ex) { HandleReady(ex); });
  server.Get("/metrics", [this](Exchange& ex) { HandleMetrics(ex); });
  server.Get("/admin/config", [this](Exchange& ex) { HandleAdminConfig(ex); });
  server.Post("/admin/reload", [this](Exchange& ex) { HandleAdminReload(ex); });
  server.Get("/admin/spend", [this](Exchange& ex) { HandleAdminSpend(ex); });
  server.SetGate([this](const RequestHead& head) { return Gate(head); });
  server.SetOnRefusal(
      [this](const RequestHead& head, const ApiError& e) { return OnRefusal(head, e); });
}

void Gateway::HandleReady(Exchange& ex) {
  auto snap = d_.store->Current();
  bool draining = d_.draining && d_.draining->load();
  bool any_up = false;
  for (const auto& b : snap->backends) any_up |= !b.Unavailable();
  bool ready = !draining && any_up;
  // Redis does not gate readiness: every replica shares it, so failing readiness would
  // take them all out of the Service at once and turn on_unavailable's answers (local
  // service, or a clean 503) into connection errors. It is reported here and in
  // signalbox_cluster_up.
  json j = {{"status", ready ? "ready" : (draining ? "draining" : "no_backend_available")},
            {"config_version", snap->version},
            {"cluster", d_.cluster == nullptr ? "off" : (d_.cluster->up() ? "up" : "down")},
            {"backends", BackendHealth(*snap)}};
  ex.Respond(ready ? 200 : 503, {}, "application/json", j.dump());
}

void Gateway::HandleMetrics(Exchange& ex) {
  if (d_.registry == nullptr) {
    ex.Respond(404, {}, "application/json",
               ErrorBody(MakeError(ErrorCode::kNotFound, "metrics are disabled")));
    return;
  }
  ex.Respond(200, {}, std::string(metrics::kContentType), d_.registry->Scrape());
}

void Gateway::HandleAdminConfig(Exchange& ex) {
  auto snap = d_.store->Current();
  json j = {{"version", snap->version},
            {"path", snap->config->path},
            {"content_sha256", snap->config->content_hash},
            {"loaded_at", Rfc3339(snap->loaded_at)},
            {"config", ConfigToJson(*snap->config)},
            {"backends", BackendHealth(*snap)},
            {"last_reload", ReloadJson(d_.store->LastReload())}};
  ex.Respond(200, {}, "application/json", j.dump(2));
}

void Gateway::HandleAdminReload(Exchange& ex) {
  if (!d_.reload) {
    ex.Respond(503, {}, "application/json",
               ErrorBody(FromStatus(Unavailable("reload is not available"))));
    return;
  }
  ReloadResult r = d_.reload("admin");
  if (r.ok) {
    json j = {
        {"ok", true}, {"version", r.version}, {"unchanged", r.unchanged}, {"warnings", r.warnings}};
    ex.Respond(200, {}, "application/json", j.dump());
    return;
  }
  ApiError e =
      InvalidRequest(ErrorCode::kInvalidConfig,
                     fmt::format("The config was rejected ({} problems); the previous config "
                                 "(version {}) keeps serving.",
                                 r.errors.size(), r.version));
  json j = json::parse(ErrorBody(e));
  j["errors"] = r.errors;
  ex.Respond(e.status, {}, "application/json", j.dump());
}

void Gateway::HandleAdminSpend(Exchange& ex) {
  auto snap = d_.store->Current();
  if (d_.spend == nullptr) {
    ex.Respond(503, {}, "application/json",
               ErrorBody(FromStatus(Unavailable("the spend ledger is not open"))));
    return;
  }
  // With cluster.redis the totals are every replica's (Redis); if Redis does not answer,
  // this replica's own, and the x-signalbox-spend-scope header says which.
  budget::WindowSums sums;
  std::string scope = "replica";
  if (d_.cluster != nullptr) {
    if (auto cluster = d_.cluster->Totals(); cluster.ok()) {
      sums = std::move(cluster).value();
      scope = "cluster";
    } else {
      sums = d_.spend->Totals();
    }
  } else {
    sums = d_.spend->Totals();
  }
  budget::SpendReport rep =
      budget::BuildSpendReport(sums, budget::LimitsFromConfig(snap->config->budgets.keys));
  ex.Respond(200, {{"x-signalbox-spend-scope", scope}}, "application/json",
             budget::SpendReportJson(rep));
}

}  // namespace signalbox
