#include "openai/response.h"

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

namespace signalbox {
namespace {

using nlohmann::json;

// What a container or value is, by its path in an OpenAI response object.
enum class Role : uint8_t {
  kOther,
  kRoot,          // the top-level object
  kChoices,       // root.choices (array)
  kData,          // root.data (array: embeddings)
  kChoice,        // choices[i]
  kHolder,        // choices[i].delta / .message
  kToolCalls,     // holder.tool_calls (array)
  kToolCall,      // tool_calls[j]
  kFunction,      // tool_calls[j].function
  kUsage,         // root.usage
  kUsageDetails,  // usage.prompt_tokens_details / usage.input_tokens_details
  kError,         // root.error
  kGenerated,     // a string of generated text: choice.text, holder.content, ...
  kPromptTokens,
  kInputTokens,
  kCompletionTokens,
  kOutputTokens,
  kCachedTokens,
  kErrorMessage,
};

// One pass of nlohmann's SAX parser over the response: no DOM, no allocation per value
// except the strings the parser hands over. Reads what ReadUsage/OutputChars need.
class ResponseScan {
 public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  bool root_object = false;
  bool error = false;  // root.error is present and not null
  std::string error_message;
  bool choices_seen = false, choices_array = false, choices_null = false, choices_nonempty = false;
  bool data_array = false;
  bool usage_object = false;
  // prompt_tokens wins over input_tokens, completion_tokens over output_tokens.
  std::optional<int64_t> prompt, input, completion, output, cached;
  int64_t output_chars = 0;

  bool null() {
    Role r = Take();
    if (r == Role::kChoices) choices_null = true;
    return Scalar();
  }
  bool boolean(bool) { return Value(Take()); }
  bool number_integer(number_integer_t v) { return Integer(Take(), v); }
  bool number_unsigned(number_unsigned_t v) {
    return Integer(Take(), v > static_cast<number_unsigned_t>(INT64_MAX) ? INT64_MAX
                                                                         : static_cast<int64_t>(v));
  }
  bool number_float(number_float_t, const string_t&) { return Value(Take()); }
  bool binary(binary_t&) { return Value(Take()); }
  bool string(string_t& s) {
    Role r = Take();
    if (r == Role::kGenerated) output_chars += static_cast<int64_t>(s.size());
    if (r == Role::kErrorMessage) error_message = s.substr(0, 200);
    return Value(r);
  }
  bool start_object(std::size_t) {
    if (stack_.empty()) {
      root_object = true;
      stack_.push_back({Role::kRoot, false});
      return true;
    }
    Role r = Take();
    if (r == Role::kError) error = true;
    if (r == Role::kUsage) usage_object = true;
    bool keep = r == Role::kChoice || r == Role::kHolder || r == Role::kToolCall ||
                r == Role::kFunction || r == Role::kUsage || r == Role::kUsageDetails ||
                r == Role::kError;
    stack_.push_back({keep ? r : Role::kOther, false});
    return true;
  }
  bool key(string_t& k) {
    next_ = KeyRole(stack_.back().role, k);
    return true;
  }
  bool end_object() {
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) {
    if (stack_.empty()) return false;  // not an object: stop, nothing to read
    Role r = Take();
    if (r == Role::kChoices) choices_array = true;
    if (r == Role::kData) data_array = true;
    if (r == Role::kError) error = true;
    bool keep = r == Role::kChoices || r == Role::kToolCalls;
    stack_.push_back({keep ? r : Role::kOther, true});
    return true;
  }
  bool end_array() {
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;
  }

  std::optional<Usage> usage() const {
    if (!usage_object) return std::nullopt;
    Usage u;
    u.prompt_tokens =
        std::clamp<int64_t>(prompt.value_or(input.value_or(0)), 0, kMaxReportedTokens);
    u.completion_tokens =
        std::clamp<int64_t>(completion.value_or(output.value_or(0)), 0, kMaxReportedTokens);
    u.cached_tokens = std::clamp<int64_t>(cached.value_or(0), 0, u.prompt_tokens);
    return u;
  }

 private:
  struct Frame {
    Role role;
    bool array;
  };

  static Role KeyRole(Role parent, std::string_view k) {
    switch (parent) {
      case Role::kRoot:
        if (k == "choices") return Role::kChoices;
        if (k == "data") return Role::kData;
        if (k == "usage") return Role::kUsage;
        if (k == "error") return Role::kError;
        return Role::kOther;
      case Role::kChoice:
        if (k == "text") return Role::kGenerated;
        if (k == "delta" || k == "message") return Role::kHolder;
        return Role::kOther;
      case Role::kHolder:
        if (k == "content" || k == "reasoning_content" || k == "refusal") return Role::kGenerated;
        if (k == "tool_calls") return Role::kToolCalls;
        return Role::kOther;
      case Role::kToolCall:
        return k == "function" ? Role::kFunction : Role::kOther;
      case Role::kFunction:
        return k == "arguments" || k == "name" ? Role::kGenerated : Role::kOther;
      case Role::kUsage:
        if (k == "prompt_tokens") return Role::kPromptTokens;
        if (k == "input_tokens") return Role::kInputTokens;
        if (k == "completion_tokens") return Role::kCompletionTokens;
        if (k == "output_tokens") return Role::kOutputTokens;
        if (k == "prompt_tokens_details" || k == "input_tokens_details") return Role::kUsageDetails;
        return Role::kOther;
      case Role::kUsageDetails:
        return k == "cached_tokens" ? Role::kCachedTokens : Role::kOther;
      case Role::kError:
        return k == "message" ? Role::kErrorMessage : Role::kOther;
      default:
        return Role::kOther;
    }
  }

  // The role of the value that starts now: an array's element, or an object's member.
  Role Take() {
    if (stack_.empty()) return Role::kOther;
    Frame& f = stack_.back();
    if (f.array) {
      if (f.role == Role::kChoices) {
        choices_nonempty = true;
        return Role::kChoice;
      }
      return f.role == Role::kToolCalls ? Role::kToolCall : Role::kOther;
    }
    Role r = next_;
    next_ = Role::kOther;
    if (r == Role::kChoices) choices_seen = true;
    return r;
  }
  bool Value(Role r) {
    if (r == Role::kError) error = true;
    return Scalar();
  }
  bool Integer(Role r, int64_t v) {
    switch (r) {
      case Role::kPromptTokens:
        prompt = v;
        break;
      case Role::kInputTokens:
        input = v;
        break;
      case Role::kCompletionTokens:
        completion = v;
        break;
      case Role::kOutputTokens:
        output = v;
        break;
      case Role::kCachedTokens:
        cached = v;
        break;
      default:
        return Value(r);
    }
    return Scalar();
  }
  // A scalar at the root means the payload is not an object: stop.
  bool Scalar() const { return !stack_.empty(); }

  std::vector<Frame> stack_;
  Role next_ = Role::kOther;
};

// Scans `text`; false when it is not a complete JSON object.
bool Scan(std::string_view text, ResponseScan* scan) {
  bool ok =
      json::sax_parse(text.begin(), text.end(), scan, json::input_format_t::json, /*strict=*/true);
  return ok && scan->root_object;
}

}  // namespace

ChunkInfo InspectChunk(std::string_view data) {
  ChunkInfo info;
  ResponseScan s;
  if (!Scan(data, &s)) return info;
  info.parsed = true;
  if (s.error) {
    info.is_error = true;
    info.error_message = std::move(s.error_message);
    return info;
  }
  info.usage = s.usage();
  bool no_choices = !s.choices_seen || s.choices_null || (s.choices_array && !s.choices_nonempty);
  info.usage_only = info.usage.has_value() && no_choices;
  info.output_chars = s.output_chars;
  return info;
}

BodyInfo InspectBody(std::string_view body, bool embeddings) {
  BodyInfo info;
  ResponseScan s;
  if (!Scan(body, &s) || s.error) return info;
  if (!(embeddings ? s.data_array : s.choices_array)) return info;
  info.usable = true;
  info.usage = s.usage();
  info.output_chars = s.output_chars;
  return info;
}

std::optional<Usage> UsageFromBody(std::string_view body) {
  ResponseScan s;
  if (!Scan(body, &s)) return std::nullopt;
  return s.usage();
}

int64_t OutputCharsFromBody(std::string_view body) {
  ResponseScan s;
  if (!Scan(body, &s)) return 0;
  return s.output_chars;
}

}  // namespace signalbox
