// TextScanner: one pass over a text that counts what the signals are made of.
//
// Immutable (holds a reference to an immutable KeywordTable); Scan() is thread-safe and
// allocates nothing. The scanner reads the bytes once, left to right: it hashes each
// word and probes the keyword table, follows phrases word by word, counts structure
// (sentences, question marks, numbers, operators between operands, code syntax, list
// items) with at most a few bytes of look-around, and prices each run of characters
// in tokens on the way (see EstimateTokens in classifier.h for the rules).
#pragma once

#include <cstdint>
#include <string_view>

#include "classify/keyword_table.h"
#include "classify/signals.h"

namespace signalbox::classify {

// Counts of one text, or a role-weighted sum of several. Doubles because each text is
// scaled by the weight of its role (the user's last turn 1, tool output much less).
struct TextStats {
  double words = 0;      // letter words (numbers excluded)
  double sentences = 0;  // . ! ? followed by a space or the end
  double questions = 0;  // runs of question marks
  double numbers = 0;    // numeric literals
  double math_ops = 0;   // = + - * / ^ < > <= >= between two operands
  double math_symbols = 0;  // ∑ ≤ → ∨ ⊃ · × ..., lone Greek letters, \frac-style commands, ~p
  double code_fences = 0;  // ``` runs
  double code_syntax = 0;  // == -> :: && foo_bar camelCase, lines ending in ; { }, #include
  double list_items = 0;   // lines opening with 1. 2) - * •
  double kw[kNumKeywordClasses] = {};  // summed keyword strengths per class
  // Keyword classes matched by a keyword that starts at the first word of the first
  // text scanned into these stats (bit i = KeywordClass i): "hi", "what is", ...
  uint32_t opening_classes = 0;
  bool opened = false;  // a word has been seen, opening_classes is final

  // this += w * other (opening_classes and opened are taken from other when unset).
  void AddScaled(const TextStats& other, double w);
};

class TextScanner {
 public:
  explicit TextScanner(const KeywordTable& table) : table_(table) {}

  // Adds the counts of `text` to *stats; returns its estimated tokens (EstimateTokens).
  int64_t Scan(std::string_view text, TextStats* stats) const;

  // The token estimate alone: the same pass without keyword lookups.
  static int64_t CountTokens(std::string_view text);

 private:
  const KeywordTable& table_;
};

}  // namespace signalbox::classify
