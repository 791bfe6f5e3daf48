// "Did you mean ...?" for a misspelt name: the closest candidate by edit distance.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace signalbox {

// " (did you mean 'x'?)" for the candidate closest to `word` (at most a third of its
// length away, at least 2), or "" when none is close.
std::string DidYouMean(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace signalbox
