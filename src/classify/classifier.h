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

namespace switchyard::classify {

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
  int num_tools = 0;             // entries of `tools` (and legacy `functions`)
  bool has_images = false;       // any image_url / input_image part
  bool structured_output = false;  // response_format json_object / json_schema
  int64_t max_tokens = -1;       // max_completion_tokens ?? max_tokens; -1 if absent
};

// One signal's part in a decision: value in [0,1], its weight, and value * weight.
struct Signal {
  std::string_view name;  // points at static storage
  double value = 0;
  double weight = 0;
  double contribution = 0;
};

struct Classification {
  double score = 0;  // in [0,1]; higher = needs a stronger model
  int tier_index = 0;
  std::string tier;  // name from classifier.tiers
  int64_t input_tokens = 0;  // estimated prompt tokens (all parts)
  std::vector<Signal> signals;  // every known signal, weight 0 included, fixed order
};

// A built-in signal: its name, meaning (for docs and `explain`) and default weight.
struct SignalInfo {
  std::string_view name;
  std::string_view meaning;
  double default_weight;
};

// The known signals in a fixed order. Config validation rejects other names.
const std::vector<SignalInfo>& KnownSignals();

// Estimated token count of `text` (the fast estimator used for routing and budgets).
// Linear in the size of the text, no allocation.
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

}  // namespace switchyard::classify
