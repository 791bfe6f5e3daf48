// Internal ids of the classifier's signals and of the keyword classes the text scanner
// counts. Immutable tables; see classify/README.md for what each signal means.
#pragma once

#include <cstdint>

namespace signalbox::classify {

// The order of KnownSignals() and of Classification::signals.
enum SignalId : int {
  kSigLength = 0,
  kSigCode,
  kSigMath,
  kSigReasoning,
  kSigMultiStep,
  kSigConstraints,
  kSigQuestions,
  kSigDepth,
  kSigTools,
  kSigStructuredOutput,
  kSigImages,
  kSigLongOutput,
  kSigSimple,
  kNumSignals
};

// What a keyword counts towards. Finer than the signals so that one signal can weigh
// strong markers ("prove", "trade-off") above weak ones ("because", "than") and so the
// tuning tables can show each group's effect on its own.
enum KeywordClass : uint8_t {
  kKwCode = 0,     // programming words, languages, tools, stack-trace phrases -> code
  kKwMath,         // math vocabulary: equation, integral, probability -> math
  kKwQuantity,     // relations between quantities: twice, half, percent, ratio -> math
  kKwReasonAsk,    // explicit asks for reasoning: why, prove, compare, trade-off -> reasoning
  kKwConnective,   // logical and causal connectives: if, because, therefore, cause -> reasoning
  kKwComparative,  // comparisons: than, fewer, greater -> reasoning
  kKwSequence,     // steps and order of events: first, then, after, finally -> multi_step
  kKwConstraint,   // demands on the answer: must, exactly, at most, json -> constraints
  kKwLongOutput,   // asks for a long answer: essay, detailed, comprehensive -> long_output
  kKwSimple,       // lookups and phrase translation: define, capital of -> simple
  kKwGreeting,     // greetings and acknowledgements: hi, thanks -> simple
  kKwLookupStart,  // words that open a short factual question: what, who -> simple
  kKwFileExt,      // source file extensions, counted only right after a dot: .py .cc -> code
  kNumKeywordClasses
};

// The keyword class that classifier.keywords.<signal> adds to, or -1 for a signal that
// is not measured from words (length, questions, depth, tools, ...).
int KeywordClassOfSignal(int signal);

}  // namespace signalbox::classify
