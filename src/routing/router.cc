#include "routing/router.h"

#include <fmt/format.h>

#include <algorithm>

namespace signalbox::routing {
namespace {

// Tokens the chat format adds per message (role markers, separators).
constexpr int64_t kPerMessageTokens = 4;
// Per image part: the most a provider documents for one image, since the request does not
// tell its size (OpenAI: 85 + 170 per 512-px tile, at most 1105 for gpt-4o at high
// detail; Anthropic: width x height / 750, about 1600 at its 1.15-megapixel limit).
constexpr int64_t kImageTokens = 1600;

bool InRange(const NumRange& r, double v) {
  return (!r.gte || v >= *r.gte) && (!r.lt || v < *r.lt);
}

std::string RangeText(const NumRange& r) {
  if (r.gte && r.lt) return fmt::format("[{}, {})", *r.gte, *r.lt);
  if (r.gte) return fmt::format(">= {}", *r.gte);
  return fmt::format("< {}", *r.lt);
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : "|") + s;
  return out;
}

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string Money(double v) { return fmt::format("${:.6f}", v); }

}  // namespace

double EstimateCost(const PriceConfig& price, int64_t in, int64_t out) {
  return (static_cast<double>(in) * price.input_per_mtok +
          static_cast<double>(out) * price.output_per_mtok) /
         1e6;
}

double UsageCost(const PriceConfig& price, int64_t in, int64_t cached, int64_t cache_write,
                 int64_t out) {
  cached = std::clamp<int64_t>(cached, 0, in);
  cache_write = std::clamp<int64_t>(cache_write, 0, in - cached);
  const double plain = static_cast<double>(in - cached - cache_write);
  return (plain * price.input_per_mtok +
          static_cast<double>(cached) * price.cached_input_per_mtok.value_or(price.input_per_mtok) +
          static_cast<double>(cache_write) *
              price.cache_write_per_mtok.value_or(price.input_per_mtok) +
          static_cast<double>(out) * price.output_per_mtok) /
         1e6;
}

const Candidate* Decision::target() const {
  for (const auto& c : candidates) {
    if (!c.skipped) return &c;
  }
  return nullptr;
}

std::shared_ptr<const Router> Router::Build(const Config& cfg) {
  auto r = std::shared_ptr<Router>(new Router());
  std::unordered_map<std::string, int> by_name;
  for (const auto& b : cfg.backends) {
    by_name[b.name] = static_cast<int>(r->backends_.size());
    r->backends_.push_back({b.name, b.model, b.price, b.context_window, b.api});
  }
  // An explicit model is a backend's name or the model it serves; names win over models
  // when they collide.
  for (int i = static_cast<int>(cfg.backends.size()) - 1; i >= 0; --i)
    r->explicit_[cfg.backends[i].model] = i;
  for (const auto& [name, i] : by_name) r->explicit_[name] = i;
  for (const auto& rule : cfg.router.rules) {
    CompiledRule cr;
    cr.cfg = rule;
    for (const auto& b : rule.route) cr.route.push_back(by_name.at(b));
    r->rules_.push_back(std::move(cr));
  }
  r->virtual_model_list_ = cfg.router.virtual_models;
  r->virtual_models_.insert(cfg.router.virtual_models.begin(), cfg.router.virtual_models.end());
  r->allow_explicit_ = cfg.router.allow_explicit_models;
  r->classifier_ = classify::Classifier::Create(cfg.classifier);
  r->default_output_tokens_ = cfg.budgets.default_output_tokens;
  r->on_exceed_ = cfg.budgets.on_exceed;
  return r;
}

int Router::ExplicitBackend(std::string_view m) const {
  if (!allow_explicit_) return -1;
  auto it = explicit_.find(std::string(m));
  return it == explicit_.end() ? -1 : it->second;
}

int64_t Router::EstimateInputTokens(const RequestFacts& f) const {
  if (f.embeddings) return (f.embedding_input_chars + 3) / 4;
  if (f.input == nullptr) return 0;
  int64_t t = 0;
  for (const auto& p : f.input->parts) t += classify::EstimateTokens(p.text);
  t += kPerMessageTokens * f.input->num_messages;
  // Every image part, not one per request; at least one when the facts say images.
  t += kImageTokens * std::max(f.images, f.has_images ? 1 : 0);
  return t + f.extra_input_tokens;
}

std::vector<int> Router::WithAffinity(const std::vector<int>& route, const RequestFacts& f,
                                      Decision* d) const {
  if (f.affinity_backend.empty()) return route;
  auto it = std::find_if(backends_.begin(), backends_.end(),
                         [&](const CompiledBackend& b) { return b.name == f.affinity_backend; });
  if (it == backends_.end()) return route;  // gone since: routed normally
  int idx = static_cast<int>(it - backends_.begin());
  std::vector<int> out = {idx};
  for (int i : route) {
    if (i != idx) out.push_back(i);
  }
  d->affinity = it->name;
  return out;
}

bool Router::Matches(const CompiledRule& r, const RequestFacts& f, const Decision& d,
                     std::string* why) const {
  const WhenConfig& w = r.cfg.when;
  if (!w.tier.empty() && !Contains(w.tier, d.classification.tier)) {
    *why = fmt::format("tier is {}, not {}", d.classification.tier, Join(w.tier));
    return false;
  }
  if (w.score && !InRange(*w.score, d.classification.score)) {
    *why = fmt::format("score {:.4f} is not {}", d.classification.score, RangeText(*w.score));
    return false;
  }
  if (!w.model.empty() && !Contains(w.model, f.model)) {
    *why = fmt::format("model is not {}", Join(w.model));
    return false;
  }
  if (!w.key.empty() && !Contains(w.key, f.key_id)) {
    *why = fmt::format("key is not {}", Join(w.key));
    return false;
  }
  for (const auto& [name, value] : w.header) {
    std::optional<std::string_view> got = f.header ? f.header(name) : std::nullopt;
    if (!got || *got != value) {
      *why = fmt::format("header {} is not '{}'", name, value);
      return false;
    }
  }
  if (w.has_tools && *w.has_tools != f.has_tools) {
    *why = fmt::format("has_tools is {}", f.has_tools);
    return false;
  }
  if (w.has_images && *w.has_images != f.has_images) {
    *why = fmt::format("has_images is {}", f.has_images);
    return false;
  }
  if (w.stream && *w.stream != f.stream) {
    *why = fmt::format("stream is {}", f.stream);
    return false;
  }
  if (w.input_tokens && !InRange(*w.input_tokens, static_cast<double>(d.input_tokens))) {
    *why = fmt::format("input_tokens {} is not {}", d.input_tokens, RangeText(*w.input_tokens));
    return false;
  }
  return true;
}

void Router::BuildCandidates(const std::vector<int>& route, const RequestFacts& f,
                             const BudgetView& b, Decision* d) const {
  bool any_budget_skip = false;
  bool first_fitting = true;
  std::string first_budget_message, first_budget_code;
  for (int idx : route) {
    const CompiledBackend& be = backends_[idx];
    Candidate c;
    c.backend = be.name;
    c.backend_index = idx;
    c.estimated_cost_usd = EstimateCost(be.price, d->input_tokens, d->output_tokens);
    if (std::find(be.api.begin(), be.api.end(), f.api) == be.api.end()) {
      c.skipped = true;
      c.skip_code = "api";
      c.reason = fmt::format("does not serve the {} API (backends[].api)", ApiFamilyName(f.api));
    } else if (be.context_window > 0 && !f.embeddings &&
               d->input_tokens + std::max<int64_t>(f.max_tokens, 0) > be.context_window) {
      c.skipped = true;
      c.skip_code = "context_window";
      c.reason =
          fmt::format("prompt (~{} tokens) plus max_tokens ({}) exceeds the context window ({})",
                      d->input_tokens, std::max<int64_t>(f.max_tokens, 0), be.context_window);
    } else if (b.request_cap_usd && c.estimated_cost_usd > *b.request_cap_usd) {
      c.skipped = true;
      c.skip_code = "request_cap";
      c.reason = fmt::format(
          "estimated cost {} exceeds the request cap of {}{}", Money(c.estimated_cost_usd),
          Money(*b.request_cap_usd),
          b.request_cap_from_header ? " (x-signalbox-max-cost-usd)" : " (budgets.request_max_usd)");
    } else if (b.day_remaining_usd && c.estimated_cost_usd > *b.day_remaining_usd) {
      c.skipped = true;
      c.skip_code = "daily_budget";
      c.reason = fmt::format("estimated cost {} exceeds the key's daily budget left ({})",
                             Money(c.estimated_cost_usd), Money(*b.day_remaining_usd));
    } else if (b.month_remaining_usd && c.estimated_cost_usd > *b.month_remaining_usd) {
      c.skipped = true;
      c.skip_code = "monthly_budget";
      c.reason = fmt::format("estimated cost {} exceeds the key's monthly budget left ({})",
                             Money(c.estimated_cost_usd), Money(*b.month_remaining_usd));
    }
    if (c.budget_skip()) {
      if (!any_budget_skip) {
        first_budget_message = c.reason;
        first_budget_code = c.skip_code;
      }
      any_budget_skip = true;
      if (first_fitting && on_exceed_ == OnExceed::kReject) {
        d->kind = Decision::Kind::kBudgetRejected;
        d->message = fmt::format("Budget exceeded on backend '{}': {}.", be.name, c.reason);
        d->budget_code = c.skip_code;
      }
    }
    if (!c.skipped || c.budget_skip()) first_fitting = false;
    d->candidates.push_back(std::move(c));
  }
  if (d->kind == Decision::Kind::kBudgetRejected) return;
  if (d->target() != nullptr) return;
  bool any_fits = std::any_of(d->candidates.begin(), d->candidates.end(),
                              [](const Candidate& c) { return c.skip_code != "api"; });
  if (!any_fits) {
    d->kind = Decision::Kind::kNoApi;
    d->message = fmt::format(
        "No backend this request may use serves the {} API: add {} to a backend's api list "
        "(backends[].api).",
        ApiFamilyName(f.api), ApiFamilyName(f.api));
  } else if (any_budget_skip) {
    d->kind = Decision::Kind::kBudgetRejected;
    d->message = fmt::format("Budget exceeded: no backend fits ({}).", first_budget_message);
    d->budget_code = first_budget_code;
  } else {
    d->kind = Decision::Kind::kNoFit;
    d->message = fmt::format(
        "The prompt (~{} tokens) plus max_tokens does not fit the context window of any backend "
        "this request may use.",
        d->input_tokens);
  }
}

Decision Router::Decide(const RequestFacts& f, const BudgetView& b) const {
  Decision d;
  d.api = f.api;
  d.input_tokens = EstimateInputTokens(f);
  int64_t per_choice =
      f.max_tokens > 0 ? f.max_tokens : (f.embeddings ? 0 : default_output_tokens_);
  d.output_tokens = per_choice * std::max(1, f.n);
  if (IsVirtualModel(f.model) && !f.embeddings) {
    if (f.input != nullptr) {
      d.classification = classifier_->Classify(*f.input);
      d.classified = true;
    }
    for (const auto& rule : rules_) {
      RuleTrace t;
      t.rule = rule.cfg.name;
      t.matched = Matches(rule, f, d, &t.why_not);
      d.trace.push_back(t);
      if (!t.matched) continue;
      d.kind = Decision::Kind::kRouted;
      d.rule = rule.cfg.name;
      BuildCandidates(WithAffinity(rule.route, f, &d), f, b, &d);
      return d;
    }
    d.kind = Decision::Kind::kNotFound;
    d.message = fmt::format(
        "No routing rule matches this request for model '{}'. Add a rule without `when` as the "
        "default.",
        f.model.substr(0, 128));
    return d;
  }
  int idx = ExplicitBackend(f.model);
  if (idx < 0) {
    d.kind = Decision::Kind::kNotFound;
    return d;
  }
  d.kind = Decision::Kind::kExplicit;
  d.rule = "explicit";
  BuildCandidates({idx}, f, b, &d);
  return d;
}

}  // namespace signalbox::routing
