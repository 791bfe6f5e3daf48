// `score`, `calibrate` and `replay`: the batch verbs over JSON lines.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "app/offline.h"
#include "app/verbs.h"
#include "common/json_writer.h"
#include "config/loader.h"
#include "routing/request_facts.h"

namespace signalbox::app {
namespace {

const classify::Classification& ScoreOf(const OfflineRouting& r, const OfflineRequest& q,
                                        const routing::Decision& d, classify::Classification* tmp) {
  if (d.classified) return d.classification;
  *tmp = r.router->classifier().Classify(q.req.classify);
  return *tmp;
}

void FlushIfBig(std::string& out, bool force = false) {
  if (out.size() >= (1u << 16) || (force && !out.empty())) {
    std::fwrite(out.data(), 1, out.size(), stdout);
    out.clear();
  }
}

}  // namespace

int RunScore(const Args& args) {
  auto routing = LoadOffline(args);
  if (!routing) return 1;
  routing::BudgetView budget = routing::BaseBudget(routing->cfg);
  std::string out;
  bool any_error = false;
  bool ok = ForEachInputLine(args, "score", [&](size_t, const std::string& line) {
    JsonWriter w(out);
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    OfflineRequest q;
    std::optional<std::string> err;
    if (j.is_discarded())
      err = "the line is not valid JSON";
    else
      err = RequestFromLine(j, routing->cfg, &q);
    w.BeginObject().Key("id").Raw(
        q.id.is_null() && j.is_object() && j.contains("id") ? j["id"].dump() : q.id.dump());
    if (err) {
      any_error = true;
      w.Field("error", *err).EndObject();
    } else {
      routing::Decision d = DecideOffline(*routing, q, budget);
      classify::Classification tmp;
      const auto& c = ScoreOf(*routing, q, d, &tmp);
      const routing::Candidate* t = d.target();
      w.Field("score", c.score).Field("tier", c.tier);
      w.Key("backend");
      if (t)
        w.String(t->backend);
      else
        w.Null();
      w.Key("rule");
      if (!d.rule.empty())
        w.String(d.rule);
      else
        w.Null();
      w.EndObject();
    }
    out += '\n';
    FlushIfBig(out);
  });
  FlushIfBig(out, true);
  if (!ok) return 1;
  return any_error ? 1 : 0;
}

int RunCalibrate(const Args& args) {
  auto share_s = args.Get("strong-share");
  if (!args.Get("input") || !share_s) {
    std::fprintf(stderr, "signalbox calibrate: --input FILE and --strong-share X are required\n");
    return 2;
  }
  char* end = nullptr;
  double share = std::strtod(share_s->c_str(), &end);
  if (end == share_s->c_str() || *end != '\0' || !(share > 0 && share <= 1)) {
    std::fprintf(stderr, "signalbox calibrate: --strong-share must be a number in (0, 1]\n");
    return 2;
  }
  auto routing = LoadOffline(args);
  if (!routing) return 1;
  const auto& tiers = routing->cfg.classifier.tiers;
  std::string tier = args.Get("tier").value_or(tiers.back().first);
  auto it =
      std::find_if(tiers.begin(), tiers.end(), [&](const auto& t) { return t.first == tier; });
  if (it == tiers.end()) {
    std::fprintf(stderr, "signalbox calibrate: unknown tier '%s'\n", tier.c_str());
    return 1;
  }
  if (it == tiers.begin()) {
    std::fprintf(stderr, "signalbox calibrate: '%s' is the lowest tier; its bound is always 0\n",
                 tier.c_str());
    return 1;
  }
  std::vector<double> scores;
  size_t bad = 0;
  bool ok = ForEachInputLine(args, "calibrate", [&](size_t n, const std::string& line) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    OfflineRequest q;
    if (j.is_discarded() || RequestFromLine(j, routing->cfg, &q)) {
      ++bad;
      std::fprintf(stderr, "line %zu: skipped (not a prompt line)\n", n);
      return;
    }
    scores.push_back(routing->router->classifier().Classify(q.req.classify).score);
  });
  if (!ok) return 1;
  if (scores.empty()) {
    std::fprintf(stderr, "signalbox calibrate: no prompts in the input\n");
    return 1;
  }
  // Quantile method: the k-th highest score, k = ceil(share x n), is the lowest bound
  // that sends at least share x n prompts to the tier.
  std::sort(scores.begin(), scores.end(), std::greater<>());
  size_t k =
      std::clamp<size_t>(static_cast<size_t>(std::ceil(share * scores.size())), 1, scores.size());
  double t = scores[k - 1];
  size_t at_or_above =
      std::count_if(scores.begin(), scores.end(), [&](double s) { return s >= t; });
  std::printf("threshold: %s\n", fmt::format("{}", t).c_str());
  std::printf("# %zu of %zu prompts (%.2f%%) score at or above it%s\n", at_or_above, scores.size(),
              100.0 * at_or_above / scores.size(),
              bad ? fmt::format("; {} lines skipped", bad).c_str() : "");
  std::printf("# paste under classifier.tiers:\n    %s: %s\n", tier.c_str(),
              fmt::format("{}", t).c_str());
  auto idx = static_cast<size_t>(it - tiers.begin());
  if (t <= tiers[idx - 1].second || (idx + 1 < tiers.size() && t >= tiers[idx + 1].second)) {
    std::fprintf(
        stderr,
        "warning: %s breaks the ascending order of classifier.tiers; adjust the neighbours too\n",
        fmt::format("{}", t).c_str());
  }
  return 0;
}

namespace {

struct ReplayStats {
  size_t requests = 0;
  std::map<std::string, size_t> tiers, backends;
  std::map<std::string, double> cost;
  double total_cost = 0;
};

void Count(ReplayStats& s, const routing::Decision& d) {
  ++s.requests;
  s.tiers[d.classified ? d.classification.tier : "(unclassified)"]++;
  const routing::Candidate* t = d.target();
  std::string b = t ? t->backend : "(none)";
  s.backends[b]++;
  if (t) {
    s.cost[b] += t->estimated_cost_usd;
    s.total_cost += t->estimated_cost_usd;
  }
}

void PrintStats(const char* title, const ReplayStats& s) {
  std::printf("%s: %zu requests\n", title, s.requests);
  for (const auto& [t, n] : s.tiers)
    std::printf("  tier %-16s %6.2f%%  (%zu)\n", t.c_str(), 100.0 * n / s.requests, n);
  for (const auto& [b, n] : s.backends) {
    auto c = s.cost.find(b);
    std::printf("  backend %-13s %6.2f%%  (%zu)  est. $%.6f\n", b.c_str(), 100.0 * n / s.requests,
                n, c == s.cost.end() ? 0.0 : c->second);
  }
  std::printf("  estimated cost: $%.6f\n", s.total_cost);
}

std::string Summary(const routing::Decision& d) {
  const routing::Candidate* t = d.target();
  return fmt::format("{} (rule {}, tier {})", t ? t->backend : "(none)",
                     d.rule.empty() ? "-" : d.rule, d.classified ? d.classification.tier : "-");
}

}  // namespace

int RunReplay(const Args& args) {
  if (!args.Get("input")) {
    std::fprintf(stderr, "signalbox replay: --input FILE is required\n");
    return 2;
  }
  auto routing = LoadOffline(args);
  if (!routing) return 1;
  std::optional<OfflineRouting> other;
  if (auto path = args.Get("against")) {
    Args o = args;
    o.flags.erase("config");
    o.flags.emplace("config", *path);
    other = LoadOffline(o);
    if (!other) return 1;
  }
  ReplayStats base, alt;
  size_t errors = 0, changed = 0;
  std::vector<std::string> changes;
  bool ok = ForEachInputLine(args, "replay", [&](size_t n, const std::string& line) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    OfflineRequest q;
    std::optional<std::string> err = j.is_discarded() ? std::optional<std::string>("not valid JSON")
                                                      : RequestFromLine(j, routing->cfg, &q);
    if (err) {
      ++errors;
      std::fprintf(stderr, "line %zu: %s\n", n, err->c_str());
      return;
    }
    routing::Decision d = DecideOffline(*routing, q, routing::BaseBudget(routing->cfg));
    Count(base, d);
    if (!other) return;
    routing::Decision d2 = DecideOffline(*other, q, routing::BaseBudget(other->cfg));
    Count(alt, d2);
    std::string a = Summary(d), b = Summary(d2);
    if (a != b) {
      ++changed;
      changes.push_back(fmt::format("  {}: {} -> {}", q.id.dump(), a, b));
    }
  });
  if (!ok) return 1;
  PrintStats(args.ConfigPath().c_str(), base);
  if (other) {
    PrintStats(args.Get("against")->c_str(), alt);
    std::printf("changed decisions: %zu of %zu\n", changed, base.requests);
    for (const auto& c : changes) std::printf("%s\n", c.c_str());
  }
  if (errors) std::fprintf(stderr, "%zu lines could not be read\n", errors);
  return errors ? 1 : 0;
}

}  // namespace signalbox::app
