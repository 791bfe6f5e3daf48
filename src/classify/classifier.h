// The complexity classifier: request features -> signals -> score in [0,1] -> tier.
//
// A pure function of its input and its parameters: no clock, no I/O, no globals, so
// live traffic, `explain`, `score`, `calibrate` and `replay` agree by construction.
// A Classifier is immutable after Create() and safe to share between threads.
// See classify/README.md for the signals and how they were tuned.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "config/config.h"

namespace signalbox::classify {

enum class Role { kSystem, kUser, kAssistant, kTool, kOther };

// One text segment of the conversation (a string content or one text part). The views
// point into the caller's parsed request and must outlive Classify().
struct TextPart {
  Role role;
  int message_index;  // index of the message this part belongs to
  std::string_view text;
};

// What the classifier sees of a request. Built by openai/ from a chat-completions or
// completions body, or by the CLI from a plain prompt.
struct ClassifyInput {
  std::vector<TextPart> parts;  // in conversation order
  int num_messages = 0;
  int num_tools = 0;               // entries of `tools` (and legacy `functions`)
  bool has_images = false;         // any image_url / input_image part
  bool structured_output = false;  // response_format json_object / json_schema
  int64_t max_tokens = -1;         // max_completion_tokens ?? max_tokens; -1 if absent
};

// One signal's part in a decision: value in [0,1], its weight, and its signed
// contribution to the raw sum: value * weight, negated for a signal that lowers the
// score (SignalInfo::lowers_score).
struct Signal {
  std::string_view name;  // points at static storage
  double value = 0;
  double weight = 0;
  double contribution = 0;
};

struct Classification {
  double score = 0;  // in [0,1]; higher = needs a stronger model
  int tier_index = 0;
  std::string tier;             // name from classifier.tiers
  int64_t input_tokens = 0;     // estimated prompt tokens (all parts)
  std::vector<Signal> signals;  // every known signal, weight 0 included, fixed order
};

// A built-in signal: its name, meaning (for docs and `explain`) and default weight.
// Weights are magnitudes (the config accepts 0..10); a signal with lowers_score set
// (`simple`) subtracts its value * weight from the sum instead of adding it.
struct SignalInfo {
  std::string_view name;
  std::string_view meaning;
  double default_weight;
  bool lowers_score = false;    // contribution is -value * weight
  bool takes_keywords = false;  // classifier.keywords.<name> extends its word list
};

// The known signals in a fixed order. Config validation rejects other names.
const std::vector<SignalInfo>& KnownSignals();

// The classifier's checks of a parsed config (the config module does not know its
// vocabulary): every name under classifier.signals and classifier.keywords is a known
// signal, and keywords extend only signals that have a word list. Loading a config
// (runtime/config_load.h) runs it with the loader's own checks.
std::vector<ConfigProblem> CheckConfig(const ClassifierConfig& cfg);

// Estimated token count of `text` (the fast estimator used for routing and budgets),
// modelled on BPE vocabularies such as cl100k/o200k: a word is a token plus a quarter
// per letter beyond six, a number a token per three digits, a run of punctuation a token
// plus half a token per further character, a run of two or more spaces or of newlines a
// token, a non-ASCII character half a token (2 bytes), one (3 bytes) or two (4 bytes).
// Within about 15% of real counts on English prose and code. Linear in the size of the
// text, no allocation. Classification::input_tokens is the sum of this over the parts.
int64_t EstimateTokens(std::string_view text);

class Classifier {
 public:
  // REQUIRES: cfg has been validated (known signal names, ascending tiers, tiers
  // non-empty with the first bound 0).
  static std::shared_ptr<const Classifier> Create(const ClassifierConfig& cfg);

  Classification Classify(const ClassifyInput& in) const;

  // Tier names in ascending order of their lower bound.
  const std::vector<std::pair<std::string, double>>& tiers() const { return tiers_; }

  ~Classifier();

 private:
  Classifier() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<std::pair<std::string, double>> tiers_;
};

}  // namespace signalbox::classify
