// `check`, `explain` and `spend`.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <sstream>

#include "app/offline.h"
#include "app/verbs.h"
#include "budget/spend_report.h"
#include "cluster/cluster_state.h"
#include "routing/decision_json.h"
#include "routing/request_facts.h"
#include "runtime/config_load.h"

namespace signalbox::app {
namespace {

std::string ReadAll(std::istream& in) {
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int RunCheck(const Args& args) {
  if (!args.positional.empty()) {
    std::fprintf(stderr, "signalbox check: unexpected argument '%s'\n", args.positional[0].c_str());
    return 2;
  }
  LoadResult lr = LoadCheckedConfigFile(args.ConfigPath());
  for (const auto& w : lr.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  if (!lr.config) {
    for (const auto& e : lr.errors) std::printf("%s\n", e.c_str());
    return 1;
  }
  std::printf("ok\n");
  return 0;
}

int RunExplain(const Args& args) {
  if (args.positional.size() > 1) {
    std::fprintf(stderr, "signalbox explain: give one PROMPT (quote it) or use stdin\n");
    return 2;
  }
  auto routing = LoadOffline(args);
  if (!routing) return 1;
  OfflineRequest q;
  std::string text = args.positional.empty() ? ReadAll(std::cin) : args.positional[0];
  size_t first = text.find_first_not_of(" \t\r\n");
  if (args.positional.empty() && first != std::string::npos && text[first] == '{') {
    nlohmann::json body = nlohmann::json::parse(text, nullptr, false);
    if (body.is_discarded()) {
      std::fprintf(stderr, "signalbox explain: stdin starts with '{' but is not valid JSON\n");
      return 1;
    }
    if (!body.contains("model")) body["model"] = routing->cfg.router.virtual_models.front();
    Endpoint ep = DetectEndpoint(body);
    if (auto api = args.Get("api")) {
      if (*api == "chat") {
        ep = Endpoint::kChat;
      } else if (*api == "responses") {
        ep = Endpoint::kResponses;
      } else if (*api == "messages") {
        ep = Endpoint::kMessages;
      } else {
        std::fprintf(stderr, "signalbox explain: --api must be chat, responses or messages\n");
        return 2;
      }
    }
    if (auto e = ParseDocument(ep, std::move(body), &q.req)) {
      std::fprintf(stderr, "signalbox explain: %s\n", e->message.c_str());
      return 1;
    }
  } else {
    if (first == std::string::npos) {
      std::fprintf(stderr, "signalbox explain: the prompt is empty\n");
      return 1;
    }
    RequestFromPrompt(text, routing->cfg, &q);
  }
  for (const auto& h : args.GetAll("header")) {
    auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0) {
      std::fprintf(stderr, "signalbox explain: --header must be NAME:VALUE\n");
      return 2;
    }
    std::string name = h.substr(0, colon), value = h.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    q.headers[name] = value;
  }
  routing::BudgetView budget = routing::BaseBudget(routing->cfg);
  if (auto h = q.headers.find("x-signalbox-max-cost-usd");
      h != q.headers.end() && !routing::ApplyCostCapHeader(h->second, &budget)) {
    std::fprintf(
        stderr,
        "signalbox explain: x-signalbox-max-cost-usd must be a non-negative number of USD\n");
    return 1;
  }
  std::optional<routing::BudgetInfo> info;
  if (auto key = args.Get("key")) {
    q.key_id = *key;
    const KeyConfig* kc = nullptr;
    for (const auto& k : routing->cfg.budgets.keys) {
      if (k.id == *key) kc = &k;
    }
    if (kc == nullptr) {
      std::fprintf(stderr, "signalbox explain: unknown key id '%s' (see budgets.keys)\n",
                   key->c_str());
      return 1;
    }
    // Remaining budget from the ledger file (what has been settled; no server needed).
    auto rep =
        budget::SpendReportFromLedgerFile(routing->cfg.budgets.ledger_path, NowMs(),
                                          budget::LimitsFromConfig(routing->cfg.budgets.keys));
    if (rep.ok()) {
      for (const auto& line : rep->keys) {
        if (line.id != *key) continue;
        budget.day_remaining_usd = line.day_remaining_usd;
        budget.month_remaining_usd = line.month_remaining_usd;
      }
    }
    info = routing::BudgetInfo{*key, budget.day_remaining_usd, budget.month_remaining_usd};
  } else if (!routing->cfg.budgets.keys.empty()) {
    info = routing::BudgetInfo{"", std::nullopt, std::nullopt};
  }
  // The key's limits as configured: the live counters belong to the running server
  // (POST /v1/route shows them).
  std::optional<routing::LimitInfo> limits;
  for (const auto& k : routing->cfg.budgets.keys) {
    if (k.id != q.key_id) continue;
    limits = routing::LimitInfo{k.id, budget::RateLimits{k.rpm, k.tpm, k.max_parallel},
                                std::nullopt, k.models, true};
    if (k.models) {
      limits->model_allowed =
          std::find(k.models->begin(), k.models->end(), q.req.model) != k.models->end();
    }
  }
  routing::Decision d = DecideOffline(*routing, q, budget);
  std::printf("%s\n", routing::DecisionJson(d, q.req.model, info, /*pretty=*/true, limits,
                                            routing::ConfigDeployments(routing->cfg))
                          .c_str());
  return 0;
}

int RunSpend(const Args& args) {
  if (!args.positional.empty()) {
    std::fprintf(stderr, "signalbox spend: unexpected argument '%s'\n", args.positional[0].c_str());
    return 2;
  }
  LoadResult lr = LoadCheckedConfigFile(args.ConfigPath());
  if (!lr.config) {
    for (const auto& e : lr.errors) std::fprintf(stderr, "%s\n", e.c_str());
    return 1;
  }
  StatusOr<budget::SpendReport> rep = InvalidArgument("no report");
  if (const ClusterConfig& cc = lr.config->cluster; cc.enabled()) {
    // Every replica's spend, from Redis; this replica's ledger when Redis does not answer.
    cluster::ClusterOptions co;
    co.endpoint = {cc.host, cc.port, cc.db, cc.password, std::chrono::milliseconds(2000)};
    co.prefix = cc.key_prefix;
    cluster::ClusterState reader(co, nullptr, Clock::Real());
    auto sums = reader.Totals();
    if (sums.ok()) {
      rep = budget::BuildSpendReport(*sums, budget::LimitsFromConfig(lr.config->budgets.keys));
    } else {
      std::fprintf(stderr,
                   "signalbox spend: Redis (cluster.redis) does not answer (%s); showing this "
                   "replica's ledger only\n",
                   sums.status().message().c_str());
    }
  }
  if (!rep.ok()) {
    rep = budget::SpendReportFromLedgerFile(lr.config->budgets.ledger_path, NowMs(),
                                            budget::LimitsFromConfig(lr.config->budgets.keys));
  }
  if (!rep.ok()) {
    std::fprintf(stderr, "signalbox spend: %s\n", rep.status().message().c_str());
    return 1;
  }
  if (args.Has("json")) {
    std::printf("%s\n", budget::SpendReportJson(*rep).c_str());
  } else {
    std::fputs(budget::SpendReportTable(*rep).c_str(), stdout);
  }
  return 0;
}

}  // namespace signalbox::app
