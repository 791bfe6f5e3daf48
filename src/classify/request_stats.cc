#include "classify/request_stats.h"

#include <string_view>

namespace signalbox::classify {
namespace {

double RoleWeight(Role role) {
  switch (role) {
    case Role::kUser:
      return kWeightEarlierUser;
    case Role::kAssistant:
      return kWeightAssistant;
    case Role::kSystem:
      return kWeightSystem;
    case Role::kTool:
      return kWeightTool;
    default:
      return kWeightOther;
  }
}

// Blocks that coding agents and IDE harnesses insert into user turns. They describe the
// environment, not the request, so they are left out of the signals.
struct HarnessTag {
  std::string_view open;
  std::string_view close;
};
constexpr HarnessTag kHarnessTags[] = {
    {"<system-reminder>", "</system-reminder>"},
    {"<environment_details>", "</environment_details>"},
    {"<local-command-stdout>", "</local-command-stdout>"},
    // Codex CLI: the sandbox, cwd and shell; the AGENTS.md instructions.
    {"<environment_context>", "</environment_context>"},
    {"<user_instructions>", "</user_instructions>"},
};

// Calls fn(segment, is_harness) for the consecutive segments of `text`. An unclosed
// harness block runs to the end of the text.
template <typename Fn>
void ForEachSegment(std::string_view text, Fn&& fn) {
  size_t pos = 0;
  size_t search = 0;
  while (true) {
    size_t lt = text.find('<', search);
    if (lt == std::string_view::npos) break;
    const HarnessTag* tag = nullptr;
    for (const HarnessTag& t : kHarnessTags) {
      if (text.compare(lt, t.open.size(), t.open) == 0) tag = &t;
    }
    if (tag == nullptr) {
      search = lt + 1;
      continue;
    }
    if (lt > pos) fn(text.substr(pos, lt - pos), false);
    size_t close = text.find(tag->close, lt + tag->open.size());
    size_t end = close == std::string_view::npos ? text.size() : close + tag->close.size();
    fn(text.substr(lt, end - lt), true);
    pos = search = end;
  }
  if (pos < text.size()) fn(text.substr(pos), false);
}

bool HasVisibleText(std::string_view s) {
  for (unsigned char c : s) {
    if (c > ' ') return true;
  }
  return false;
}

bool PartHasOwnText(const TextPart& part) {
  bool visible = false;
  ForEachSegment(part.text, [&](std::string_view seg, bool harness) {
    if (!harness && HasVisibleText(seg)) visible = true;
  });
  return visible;
}

// A part of the ask, or nullptr when no part has text of its own.
const TextPart* FindAsk(const ClassifyInput& in) {
  for (auto it = in.parts.rbegin(); it != in.parts.rend(); ++it) {
    if (it->role == Role::kUser && PartHasOwnText(*it)) return &*it;
  }
  for (auto it = in.parts.rbegin(); it != in.parts.rend(); ++it) {
    if (PartHasOwnText(*it)) return &*it;
  }
  return nullptr;
}

}  // namespace

RequestStats GatherRequestStats(const TextScanner& scanner, const ClassifyInput& in) {
  RequestStats rs;
  rs.num_messages = in.num_messages;
  rs.num_tools = in.num_tools;
  rs.has_images = in.has_images;
  rs.structured_output = in.structured_output;
  rs.max_tokens = in.max_tokens;

  // The ask is every part of its message in its role: a tool result that shares the
  // ask's message (Anthropic puts tool_result blocks in user turns) is not the ask.
  const TextPart* ask = FindAsk(in);
  int last_user_msg = -1;
  for (const TextPart& part : in.parts) {
    const bool is_ask =
        ask != nullptr && part.message_index == ask->message_index && part.role == ask->role;
    const double w = is_ask ? kWeightAsk : RoleWeight(part.role);
    // A turn of harness blocks only (Codex's <environment_context>) is no user turn.
    if (part.role == Role::kUser && part.message_index != last_user_msg && PartHasOwnText(part)) {
      last_user_msg = part.message_index;
      ++rs.user_turns;
    }
    if (part.role == Role::kTool) rs.has_tool_results = true;
    int64_t part_tokens = 0;
    bool had_harness = false;
    ForEachSegment(part.text, [&](std::string_view seg, bool harness) {
      if (harness) {
        had_harness = true;
        return;
      }
      TextStats one;
      const int64_t tokens = scanner.Scan(seg, &one);
      part_tokens += tokens;
      rs.weighted_tokens += w * static_cast<double>(tokens);
      (is_ask ? rs.ask : rs.context).AddScaled(one, w);
    });
    // Exactly EstimateTokens(part) for every part, as budget estimates compute it.
    rs.input_tokens += had_harness ? EstimateTokens(part.text) : part_tokens;
  }
  return rs;
}

}  // namespace signalbox::classify
