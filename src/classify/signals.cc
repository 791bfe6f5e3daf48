#include "classify/signals.h"

#include "classify/classifier.h"

namespace signalbox::classify {

// Default weights: length, math, reasoning and multi_step learnt by FitSignalWeights
// from the routing benchmarks with the differences between MMLU subjects taken out
// (within-group fit, checked by leave-subjects-out cross validation), as classify/README.md
// describes; the others set by judgement for traffic the benchmarks cannot measure (code,
// constraints, conversations, tools, images).
const std::vector<SignalInfo>& KnownSignals() {
  static const std::vector<SignalInfo> signals = {
      {"length", "estimated prompt tokens, log-scaled (the ask in full, context discounted)", 0.68,
       false, false},
      {"code", "code fences, code syntax, file names, stack traces, programming vocabulary", 0.30,
       false, true},
      {"math",
       "equations, operators between operands, math and logic symbols, math "
       "vocabulary, relations between quantities (twice, percent, ratio)",
       0.30, false, true},
      {"reasoning",
       "asks for reasoning (why, prove, compare, trade-off), logical and causal "
       "connectives, comparisons",
       0.14, false, true},
      {"multi_step", "sequence and step markers (first, then, after, finally), list items", 0.29,
       false, true},
      {"constraints", "demands on the output: must, exactly, at most, JSON, bullet points", 0.15,
       false, true},
      {"questions", "number of questions beyond the first", 0.15, false, false},
      {"depth", "conversation depth: user turns beyond the first", 0.20, false, false},
      {"tools", "tools offered to the model, or tool results in the conversation", 0.25, false,
       false},
      {"structured_output", "response_format json_object or json_schema", 0.15, false, false},
      {"images", "image inputs", 0.25, false, false},
      {"long_output", "a long answer is asked for: essay, detailed, report, a large max_tokens",
       0.08, false, true},
      {"simple", "greetings, thanks, short lookups and phrase translations (lowers the score)",
       0.50, true, true},
  };
  return signals;
}

int KeywordClassOfSignal(int signal) {
  switch (signal) {
    case kSigCode:
      return kKwCode;
    case kSigMath:
      return kKwMath;
    case kSigReasoning:
      return kKwReasonAsk;
    case kSigMultiStep:
      return kKwSequence;
    case kSigConstraints:
      return kKwConstraint;
    case kSigLongOutput:
      return kKwLongOutput;
    case kSigSimple:
      return kKwSimple;
    default:
      return -1;
  }
}

}  // namespace signalbox::classify
