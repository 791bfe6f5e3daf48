// The `router` section and the cross-section checks.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "config/parse_sections.h"

namespace signalbox::config_internal {
namespace {

using R = YamlReader;

const std::vector<std::string_view> kWhenKeys = {
    "tier", "score", "model", "key", "header", "has_tools", "has_images", "input_tokens", "stream"};

void ParseRange(R& r, const YAML::Node& n, const std::string& p, SourcePos parent, double min,
                double max, std::optional<NumRange>* out) {
  if (!r.ExpectMap(n, p, parent, {"gte", "lt"})) return;
  NumRange range;
  double v;
  if (r.GetDouble(n, "gte", p, &v, min, max)) range.gte = v;
  if (r.GetDouble(n, "lt", p, &v, min, max)) range.lt = v;
  if (!range.gte && !range.lt) {
    r.Error(R::PosOf(n, parent), p, "needs gte, lt or both");
    return;
  }
  if (range.gte && range.lt && *range.gte >= *range.lt) {
    r.Error(R::PosOf(n, parent), p, "gte must be lower than lt (the range would be empty)");
    return;
  }
  *out = range;
}

void ParseWhen(R& r, const YAML::Node& n, const std::string& p, SourcePos parent, WhenConfig* w) {
  if (!r.ExpectMap(n, p, parent, kWhenKeys)) return;
  SourcePos pos = R::PosOf(n, parent);
  r.GetStringList(n, "tier", p, &w->tier);
  r.GetStringList(n, "model", p, &w->model);
  r.GetStringList(n, "key", p, &w->key);
  if (n["score"].IsDefined() && !n["score"].IsNull()) {
    ParseRange(r, n["score"], R::Join(p, "score"), pos, 0, 1, &w->score);
  }
  if (n["input_tokens"].IsDefined() && !n["input_tokens"].IsNull()) {
    ParseRange(r, n["input_tokens"], R::Join(p, "input_tokens"), pos, 0, 1e12, &w->input_tokens);
  }
  if (n["header"].IsDefined() && !n["header"].IsNull()) {
    std::string hp = R::Join(p, "header");
    if (r.ExpectFreeMap(n["header"], hp, pos)) {
      for (auto it = n["header"].begin(); it != n["header"].end(); ++it) {
        std::string name = it->first.Scalar();
        auto v = r.Scalar(it->second, R::Join(hp, name), R::PosOf(it->first, pos));
        if (!v) continue;
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        w->header.emplace_back(name, std::move(*v));
      }
    }
  }
  bool b;
  if (r.GetBool(n, "has_tools", p, &b)) w->has_tools = b;
  if (r.GetBool(n, "has_images", p, &b)) w->has_images = b;
  if (r.GetBool(n, "stream", p, &b)) w->stream = b;
}

void ParseRule(R& r, const YAML::Node& n, const std::string& p, SourcePos parent,
               RuleConfig* rule) {
  if (!r.ExpectMap(n, p, parent, {"name", "when", "route"})) return;
  SourcePos pos = R::PosOf(n, parent);
  rule->pos = pos;
  if (!r.GetString(n, "name", p, &rule->name) || rule->name.empty()) {
    r.Error(pos, R::Join(p, "name"), "is required");
  }
  if (n["when"].IsDefined() && !n["when"].IsNull()) {
    ParseWhen(r, n["when"], R::Join(p, "when"), pos, &rule->when);
  }
  if (!r.GetStringList(n, "route", p, &rule->route) || rule->route.empty()) {
    r.Error(pos, R::Join(p, "route"), "is required: list the backends to try, in order");
  }
}

bool Unconditional(const WhenConfig& w) {
  return w.tier.empty() && !w.score && w.model.empty() && w.key.empty() && w.header.empty() &&
         !w.has_tools && !w.has_images && !w.stream && !w.input_tokens;
}

}  // namespace

void ParseRouter(R& r, const YAML::Node& n, SourcePos parent, RouterConfig* out) {
  const std::string p = "router";
  if (!r.ExpectMap(n, p, parent, {"virtual_models", "allow_explicit_models", "rules"})) return;
  SourcePos pos = R::PosOf(n, parent);
  if (r.GetStringList(n, "virtual_models", p, &out->virtual_models)) {
    if (out->virtual_models.empty()) {
      r.Error(R::PosOf(n["virtual_models"], pos), "router.virtual_models",
              "list at least one name");
    }
    for (const auto& m : out->virtual_models) {
      if (m.empty())
        r.Error(R::PosOf(n["virtual_models"], pos), "router.virtual_models",
                "names must not be empty");
    }
  }
  r.GetBool(n, "allow_explicit_models", p, &out->allow_explicit_models);
  const YAML::Node& rules = n["rules"];
  if (!rules.IsDefined() || rules.IsNull()) {
    r.Error(pos, "router.rules",
            "is required: add at least one rule (a rule without `when` matches every request)");
    return;
  }
  if (!r.ExpectSeq(rules, "router.rules", pos)) return;
  std::set<std::string> names;
  for (size_t i = 0; i < rules.size(); ++i) {
    RuleConfig rule;
    std::string rp = R::Index("router.rules", i);
    ParseRule(r, rules[i], rp, R::PosOf(rules, pos), &rule);
    if (!rule.name.empty() && !names.insert(rule.name).second) {
      r.Error(R::PosOf(rules[i]["name"], rule.pos), R::Join(rp, "name"),
              fmt::format("duplicate rule name '{}'", rule.name));
    }
    out->rules.push_back(std::move(rule));
  }
  if (out->rules.empty()) r.Error(R::PosOf(rules, pos), "router.rules", "add at least one rule");
}

void CrossValidate(R& r, const YAML::Node& root, const Config& cfg) {
  std::set<std::string> backends, tiers, keys;
  for (const auto& b : cfg.backends) backends.insert(b.name);
  for (const auto& t : cfg.classifier.tiers) tiers.insert(t.first);
  for (const auto& k : cfg.budgets.keys) keys.insert(k.id);
  std::vector<std::string_view> backend_list(backends.begin(), backends.end());
  std::vector<std::string_view> tier_list(tiers.begin(), tiers.end());
  const YAML::Node& rules = root["router"]["rules"];
  bool unconditional_seen = false;
  std::string unconditional_name;
  for (size_t i = 0; i < cfg.router.rules.size(); ++i) {
    const RuleConfig& rule = cfg.router.rules[i];
    std::string rp = R::Index("router.rules", i);
    const YAML::Node& rn = rules[i];
    for (size_t j = 0; j < rule.route.size(); ++j) {
      if (!backends.count(rule.route[j])) {
        SourcePos rpos = rn["route"].IsSequence() ? R::PosOf(rn["route"][j], rule.pos)
                                                  : R::PosOf(rn["route"], rule.pos);
        r.Error(rpos, R::Index(R::Join(rp, "route"), j),
                fmt::format("unknown backend '{}'{}", rule.route[j],
                            DidYouMean(rule.route[j], backend_list)));
      }
    }
    std::set<std::string> seen(rule.route.begin(), rule.route.end());
    if (seen.size() != rule.route.size()) {
      r.Error(R::PosOf(rn["route"], rule.pos), R::Join(rp, "route"), "lists a backend twice");
    }
    for (const auto& t : rule.when.tier) {
      if (!tiers.count(t)) {
        r.Error(R::PosOf(rn["when"]["tier"], rule.pos), R::Join(rp, "when.tier"),
                fmt::format("unknown tier '{}'{} (tiers come from classifier.tiers)", t,
                            DidYouMean(t, tier_list)));
      }
    }
    for (const auto& k : rule.when.key) {
      if (!keys.count(k)) {
        r.Error(R::PosOf(rn["when"]["key"], rule.pos), R::Join(rp, "when.key"),
                fmt::format("unknown key id '{}' (key ids come from budgets.keys)", k));
      }
    }
    if (unconditional_seen) {
      r.Warn(rule.pos, rp,
             fmt::format("rule '{}' can never match: rule '{}' before it has no `when` and "
                         "matches every request",
                         rule.name, unconditional_name));
    } else if (Unconditional(rule.when)) {
      unconditional_seen = true;
      unconditional_name = rule.name;
    }
  }
  const YAML::Node& vm = root["router"]["virtual_models"];
  for (const auto& m : cfg.router.virtual_models) {
    for (const auto& b : cfg.backends) {
      if (m == b.name || m == b.model) {
        r.Error(R::PosOf(vm, {1, 1}), "router.virtual_models",
                fmt::format("'{}' is also the name or model of backend '{}': a request for it "
                            "would be ambiguous",
                            m, b.name));
      }
    }
  }
  // A key's model allow-list names models a request can ask for.
  std::set<std::string> requestable(cfg.router.virtual_models.begin(),
                                    cfg.router.virtual_models.end());
  if (cfg.router.allow_explicit_models) {
    for (const auto& b : cfg.backends) requestable.insert({b.name, b.model});
  }
  std::vector<std::string_view> requestable_list(requestable.begin(), requestable.end());
  const YAML::Node& key_nodes = root["budgets"]["keys"];
  for (size_t i = 0; i < cfg.budgets.keys.size(); ++i) {
    const KeyConfig& k = cfg.budgets.keys[i];
    if (!k.models) continue;
    const YAML::Node& mn = key_nodes[i]["models"];
    for (size_t j = 0; j < k.models->size(); ++j) {
      const std::string& m = (*k.models)[j];
      if (requestable.count(m)) continue;
      r.Error(mn.IsSequence() ? R::PosOf(mn[j], k.pos) : R::PosOf(mn, k.pos),
              R::Index(R::Join(R::Index("budgets.keys", i), "models"), j),
              fmt::format("unknown model '{}'{}: not a virtual model{}", m,
                          DidYouMean(m, requestable_list),
                          cfg.router.allow_explicit_models ? " nor a backend's name or model"
                                                           : " (allow_explicit_models is off)"));
    }
  }
  if (!unconditional_seen) {
    r.Warn(R::PosOf(rules, {1, 1}), "router.rules",
           "no rule without `when`: requests that match no rule get 404 model_not_found; add a "
           "last rule without `when` as the default");
  }
}

}  // namespace signalbox::config_internal
