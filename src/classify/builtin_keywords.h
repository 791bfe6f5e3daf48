// The classifier's built-in word lists: immutable static data.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "classify/signals.h"

namespace signalbox::classify {

// Words and phrases that count towards one keyword class with one strength each.
struct KeywordGroup {
  KeywordClass cls;
  float strength;
  std::span<const std::string_view> words;
};

// Every built-in group. Chosen for general traffic (chat, coding assistants, analysis),
// not mined from a benchmark; classify/README.md says how each was checked.
const std::vector<KeywordGroup>& BuiltinKeywordGroups();

}  // namespace signalbox::classify
