// GatherRequestStats: the first half of Classify(). Finds the human ask in a
// conversation, scans every text segment once and weighs its counts by where it sits.
//
// Pure function; see classifier.cc for the whole algorithm.
#pragma once

#include <cstdint>

#include "classify/classifier.h"
#include "classify/text_scanner.h"

namespace signalbox::classify {

// Everything Classify() gathers from one request before it computes the signals.
struct RequestStats {
  TextStats ask;               // the ask (last user turn with text of its own), weight 1
  TextStats context;           // every other text, weighted by its role
  double weighted_tokens = 0;  // estimated tokens, role-weighted, harness blocks left out
  int64_t input_tokens = 0;    // estimated tokens of every text part
  int user_turns = 0;
  int num_messages = 0;
  int num_tools = 0;
  bool has_tool_results = false;
  bool has_images = false;
  bool structured_output = false;
  int64_t max_tokens = -1;
};

// How much a text counts towards the signals, by where it sits in the conversation.
inline constexpr double kWeightAsk = 1.0;
inline constexpr double kWeightEarlierUser = 0.35;
inline constexpr double kWeightAssistant = 0.15;
// A system prompt (and Claude Code's system-role turns, Codex's developer messages) is the
// same on every request of an application: a constant cannot rank requests, it only lifts
// them all, and a coding agent's 10k-token prompt full of "code", "test" and "plan" lifted
// every ask to complex. It counts towards input_tokens only.
inline constexpr double kWeightSystem = 0.0;
inline constexpr double kWeightTool = 0.03;
inline constexpr double kWeightOther = 0.1;

// The ask is the last user message that holds text once harness blocks
// (<system-reminder>, <environment_details>, <local-command-stdout>) are cut out; with
// no such user message, the last message of any role that holds text. The ask counts in
// full, other texts by their role's weight, harness blocks not at all (they still count
// towards input_tokens).
RequestStats GatherRequestStats(const TextScanner& scanner, const ClassifyInput& in);

}  // namespace signalbox::classify
