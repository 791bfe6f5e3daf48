#include "mock/generation.h"

namespace signalbox::mock {

std::string TokenText(int i) { return (i == 0 ? "tok" : " tok") + std::to_string(i + 1); }

std::string WholeText(int tokens) {
  std::string text;
  for (int i = 0; i < tokens; ++i) text += TokenText(i);
  return text;
}

int64_t EstimateTokens(int64_t chars) { return chars <= 0 ? 1 : (chars + 3) / 4; }

std::string ToolArguments(int tokens) { return R"({"arg":")" + WholeText(tokens) + R"("})"; }

int ToolArgumentPieces(int tokens) { return tokens > 0 ? tokens : 1; }

std::string ToolArgumentPiece(int tokens, int i) {
  std::string piece = i == 0 ? R"({"arg":")" : "";
  if (tokens > 0) piece += TokenText(i);
  if (i == ToolArgumentPieces(tokens) - 1) piece += R"("})";
  return piece;
}

}  // namespace signalbox::mock
