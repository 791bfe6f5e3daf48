#include "classify/signal_math.h"

#include <algorithm>
#include <cmath>

namespace signalbox::classify {
namespace {

// length: log-scaled so that 10 -> 100 tokens moves the value as much as 100 -> 1000.
// 0 tokens -> 0, kLengthFullTokens and more -> 1.
constexpr double kLengthUnitTokens = 16;
constexpr double kLengthFullTokens = 4096;

// code: a fence or a stack-trace phrase alone nearly saturates; syntax marks add up.
constexpr double kCodeFenceWeight = 3.0;
constexpr double kCodeSyntaxWeight = 0.5;
constexpr double kCodeScale = 1.5;

// math: operators between operands and math symbols count besides the vocabulary.
constexpr double kMathOpWeight = 0.5;
constexpr double kMathSymbolWeight = 1.0;
constexpr double kMathScale = 2.5;

constexpr double kReasoningScale = 1.5;
constexpr double kListItemWeight = 0.5;
constexpr double kMultiStepScale = 2.0;
constexpr double kConstraintScale = 1.5;
constexpr double kQuestionScale = 1.5;  // per question beyond the first
constexpr double kDepthScale = 3.0;     // per user turn beyond the first
// tools: a conversation that uses tools (tool results in it) is a task under way. Tool
// definitions alone say little: an agent or an SDK sends its whole toolbox with every
// request, "say hi" included, so they only nudge.
constexpr double kToolsUsed = 0.6;
constexpr double kToolsDefined = 0.15;
constexpr double kLongOutputScale = 1.5;
constexpr int64_t kLargeMaxTokens = 4096;
constexpr int64_t kMediumMaxTokens = 1024;

// Context (earlier turns, system prompt, tool output) adds to a text signal at most
// kContextCap * scale of raw count: alone it can lift a signal to 1 - e^-0.3 = 0.26, so
// a long system prompt full of "always explain your reasoning" cannot make every
// request look hard.
constexpr double kContextCap = 0.3;

// simple: a short ask (full strength up to kSimpleFullWords words, none from
// kSimpleMaxWords) that opens with a greeting or holds a lookup/translation phrase, or
// a very short ask (up to kLookupFullWords, none from kLookupMaxWords) that opens like
// a factual question. Code or math in the ask cancels it: "what is the derivative of
// x^3 sin x?" is not a lookup.
constexpr double kSimpleFullWords = 8;
constexpr double kSimpleMaxWords = 30;
constexpr double kLookupFullWords = 6;
constexpr double kLookupMaxWords = 14;
constexpr double kSimpleGreeting = 1.0;
constexpr double kSimpleKeyword = 0.9;
constexpr double kSimpleLookup = 0.6;

// score = 1 / (1 + exp(-kScoreSlope * (sum - kScoreCenter))). The centre moved from 0.27
// to 0.32 with the refitted default weights, whose sums run about 0.05 higher on the same
// prompts: the default tier bounds keep sending the same kinds of prompt to each tier.
constexpr double kScoreSlope = 4.0;
constexpr double kScoreCenter = 0.32;

double Clamp01(double x) { return std::clamp(x, 0.0, 1.0); }
bool Opens(const TextStats& t, KeywordClass c) { return (t.opening_classes >> c) & 1u; }

// The raw counts behind the text signals, before saturation.
struct TextRaw {
  double code, math, reasoning, multi_step, constraints, long_output;
};

TextRaw RawOf(const TextStats& t) {
  const double* kw = t.kw;
  TextRaw r;
  r.code = kw[kKwCode] + kw[kKwFileExt] + kCodeFenceWeight * t.code_fences +
           kCodeSyntaxWeight * t.code_syntax;
  r.math = kw[kKwMath] + kw[kKwQuantity] + kMathOpWeight * t.math_ops +
           kMathSymbolWeight * t.math_symbols;
  r.reasoning = kw[kKwReasonAsk] + kw[kKwConnective] + kw[kKwComparative];
  r.multi_step = kw[kKwSequence] + kListItemWeight * std::max(0.0, t.list_items - 1);
  r.constraints = kw[kKwConstraint];
  r.long_output = kw[kKwLongOutput];
  return r;
}

// Saturate(ask + capped context).
double Blend(double ask, double context, double scale) {
  return Saturate(ask + std::min(context, kContextCap * scale), scale);
}

double SimpleValue(const TextStats& ask, const TextRaw& raw) {
  const double words = ask.words + ask.numbers;
  const double shortness =
      Clamp01((kSimpleMaxWords - words) / (kSimpleMaxWords - kSimpleFullWords));
  const double very_short =
      Clamp01((kLookupMaxWords - words) / (kLookupMaxWords - kLookupFullWords));
  double v = 0;
  if (Opens(ask, kKwGreeting)) v = std::max(v, kSimpleGreeting * shortness);
  if (ask.kw[kKwSimple] > 0) v = std::max(v, kSimpleKeyword * shortness);
  if (Opens(ask, kKwLookupStart)) v = std::max(v, kSimpleLookup * very_short);
  const double technical = std::max(Saturate(raw.code, kCodeScale), Saturate(raw.math, kMathScale));
  return v * (1 - technical);
}

}  // namespace

double Saturate(double x, double scale) { return x <= 0 ? 0 : 1.0 - std::exp(-x / scale); }

void ComputeSignalValues(const RequestStats& rs, double* v) {
  const TextRaw ask = RawOf(rs.ask);
  const TextRaw ctx = RawOf(rs.context);
  v[kSigLength] = Clamp01(std::log1p(std::max(0.0, rs.weighted_tokens) / kLengthUnitTokens) /
                          std::log1p(kLengthFullTokens / kLengthUnitTokens));
  v[kSigCode] = Blend(ask.code, ctx.code, kCodeScale);
  v[kSigMath] = Blend(ask.math, ctx.math, kMathScale);
  v[kSigReasoning] = Blend(ask.reasoning, ctx.reasoning, kReasoningScale);
  v[kSigMultiStep] = Blend(ask.multi_step, ctx.multi_step, kMultiStepScale);
  v[kSigConstraints] = Blend(ask.constraints, ctx.constraints, kConstraintScale);
  v[kSigQuestions] = Blend(rs.ask.questions - 1, rs.context.questions, kQuestionScale);
  v[kSigDepth] = Saturate(rs.user_turns - 1, kDepthScale);
  v[kSigTools] = rs.has_tool_results ? kToolsUsed : rs.num_tools > 0 ? kToolsDefined : 0.0;
  v[kSigStructuredOutput] = rs.structured_output ? 1.0 : 0.0;
  v[kSigImages] = rs.has_images ? 1.0 : 0.0;
  double long_output = Blend(ask.long_output, ctx.long_output, kLongOutputScale);
  if (rs.max_tokens >= kLargeMaxTokens) {
    long_output = 1.0;
  } else if (rs.max_tokens >= kMediumMaxTokens) {
    long_output = std::max(long_output, 0.5);
  }
  v[kSigLongOutput] = long_output;
  v[kSigSimple] = SimpleValue(rs.ask, ask);
}

double ScoreFromSum(double sum) {
  return 1.0 / (1.0 + std::exp(-kScoreSlope * (sum - kScoreCenter)));
}

}  // namespace signalbox::classify
