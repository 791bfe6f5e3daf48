// EstimateTokens: the token estimate of the text scanner, without keyword lookups, so
// that the classifier's input_tokens and every other caller agree by construction.
#include "classify/classifier.h"
#include "classify/text_scanner.h"

namespace signalbox::classify {

int64_t EstimateTokens(std::string_view text) { return TextScanner::CountTokens(text); }

}  // namespace signalbox::classify
