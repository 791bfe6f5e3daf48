// Classify(): how a request becomes a score.
//
// 1-2. GatherRequestStats (request_stats.cc) finds the ask, scans every text once and
//    weighs its counts by where it sits in the conversation.
// 3. Turn the weighted counts into signal values in [0,1] with saturating curves, so
//    that no single signal can run away with the score however long the text is.
// 4. Sum value * weight over the signals (`simple` subtracts), and squash the sum with a
//    logistic so the score stays in [0,1] and keeps its order: a prompt that adds a
//    signal never scores lower. Pick the highest tier whose lower bound <= score.
#include "classify/classifier.h"

#include <fmt/format.h>

#include <algorithm>

#include "classify/builtin_keywords.h"
#include "classify/keyword_table.h"
#include "classify/request_stats.h"
#include "classify/signal_math.h"
#include "classify/text_scanner.h"
#include "common/did_you_mean.h"

namespace signalbox::classify {

struct Classifier::Impl {
  KeywordTable table;
  TextScanner scanner{table};
  double weights[kNumSignals] = {};
};

Classifier::~Classifier() = default;

std::shared_ptr<const Classifier> Classifier::Create(const ClassifierConfig& cfg) {
  std::shared_ptr<Classifier> c(new Classifier());
  c->impl_ = std::make_unique<Impl>();
  Impl& impl = *c->impl_;
  const auto& known = KnownSignals();
  for (int s = 0; s < kNumSignals; ++s) {
    impl.weights[s] = known[s].default_weight;
    auto it = cfg.signal_weights.find(std::string(known[s].name));
    if (it != cfg.signal_weights.end()) impl.weights[s] = it->second;
  }
  for (const KeywordGroup& g : BuiltinKeywordGroups()) {
    for (std::string_view w : g.words) impl.table.Add(w, g.cls, g.strength);
  }
  for (const auto& [name, words] : cfg.keywords) {
    for (int s = 0; s < kNumSignals; ++s) {
      if (known[s].name != name || KeywordClassOfSignal(s) < 0) continue;
      for (const std::string& w : words) {
        impl.table.Add(w, static_cast<KeywordClass>(KeywordClassOfSignal(s)), kUserKeywordStrength);
      }
    }
  }
  impl.table.Build();
  c->tiers_ = cfg.tiers;
  if (c->tiers_.empty()) c->tiers_.emplace_back("default", 0.0);
  return c;
}

std::vector<ConfigProblem> CheckConfig(const ClassifierConfig& cfg) {
  std::vector<std::string_view> names, keyword_names;
  for (const SignalInfo& s : KnownSignals()) {
    names.push_back(s.name);
    if (s.takes_keywords) keyword_names.push_back(s.name);
  }
  std::vector<ConfigProblem> out;
  for (const auto& use : cfg.signal_names) {
    const bool keywords = use.path.rfind("classifier.keywords", 0) == 0;
    auto known = std::find(names.begin(), names.end(), use.name);
    if (known == names.end()) {
      out.push_back({use.pos, use.path, "unknown signal" + DidYouMean(use.name, names)});
    } else if (keywords && std::find(keyword_names.begin(), keyword_names.end(), use.name) ==
                               keyword_names.end()) {
      std::string list;
      for (auto n : keyword_names) list += fmt::format("{}{}", list.empty() ? "" : ", ", n);
      out.push_back({use.pos, use.path,
                     fmt::format("the signal '{}' has no word list to extend (signals that take "
                                 "keywords: {})",
                                 use.name, list)});
    }
  }
  return out;
}

Classification Classifier::Classify(const ClassifyInput& in) const {
  const Impl& impl = *impl_;
  const RequestStats rs = GatherRequestStats(impl.scanner, in);

  double values[kNumSignals];
  ComputeSignalValues(rs, values);

  Classification out;
  out.input_tokens = rs.input_tokens;
  out.signals.reserve(kNumSignals);
  const auto& known = KnownSignals();
  double sum = 0;
  for (int s = 0; s < kNumSignals; ++s) {
    Signal sig;
    sig.name = known[s].name;
    sig.value = values[s];
    sig.weight = impl.weights[s];
    sig.contribution = (known[s].lowers_score ? -1.0 : 1.0) * sig.value * sig.weight;
    sum += sig.contribution;
    out.signals.push_back(sig);
  }
  out.score = ScoreFromSum(sum);
  out.tier_index = 0;
  for (size_t t = 0; t < tiers_.size(); ++t) {
    if (tiers_[t].second <= out.score) out.tier_index = static_cast<int>(t);
  }
  out.tier = tiers_[out.tier_index].first;
  return out;
}

}  // namespace signalbox::classify
