// The streaming scanner of upstream responses (openai/response.cc) against a DOM oracle:
// the straightforward nlohmann::json reading of the same fields, on bodies and chunks
// that real upstreams send plus malformed and adversarial ones.
#include "openai/response.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace signalbox {
namespace {

using nlohmann::json;

std::optional<Usage> OracleUsage(const json& j) {
  auto u = j.find("usage");
  if (u == j.end() || !u->is_object()) return std::nullopt;
  auto num = [&](const char* a, const char* b) -> int64_t {
    for (const char* k : {a, b}) {
      auto it = u->find(k);
      if (it == u->end() || !it->is_number_integer()) continue;
      if (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t{kMaxReportedTokens})
        return kMaxReportedTokens;
      return std::clamp<int64_t>(it->get<int64_t>(), 0, kMaxReportedTokens);
    }
    return 0;
  };
  return Usage{num("prompt_tokens", "input_tokens"), num("completion_tokens", "output_tokens")};
}

int64_t OracleChars(const json& j) {
  auto len = [](const json& o, const char* k) -> int64_t {
    auto it = o.find(k);
    return it != o.end() && it->is_string()
               ? static_cast<int64_t>(it->get_ref<const std::string&>().size())
               : 0;
  };
  auto choices = j.find("choices");
  if (choices == j.end() || !choices->is_array()) return 0;
  int64_t n = 0;
  for (const auto& c : *choices) {
    if (!c.is_object()) continue;
    n += len(c, "text");
    for (const char* holder : {"delta", "message"}) {
      auto d = c.find(holder);
      if (d == c.end() || !d->is_object()) continue;
      n += len(*d, "content") + len(*d, "reasoning_content") + len(*d, "refusal");
      auto tc = d->find("tool_calls");
      if (tc == d->end() || !tc->is_array()) continue;
      for (const auto& call : *tc) {
        if (!call.is_object()) continue;
        auto f = call.find("function");
        if (f != call.end() && f->is_object()) n += len(*f, "arguments") + len(*f, "name");
      }
    }
  }
  return n;
}

bool SameUsage(const std::optional<Usage>& a, const std::optional<Usage>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a ||
         (a->prompt_tokens == b->prompt_tokens && a->completion_tokens == b->completion_tokens);
}

const std::vector<std::string>& Corpus() {
  static const std::vector<std::string> corpus = {
      R"({"choices":[{"text":"a"}],"usage":{"prompt_tokens":1000000001,"completion_tokens":999999999}})",
      // Real shapes: chat body, completions body, embeddings, stream chunks, usage chunk.
      R"({"id":"c1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there, friend."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}})",
      R"({"id":"c2","object":"text_completion","choices":[{"text":"four score","index":0}],"usage":{"prompt_tokens":3,"completion_tokens":2}})",
      R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,-0.2,3e-5]}],"usage":{"prompt_tokens":8,"total_tokens":8}})",
      R"({"id":"s","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})",
      R"({"id":"s","choices":[{"index":0,"delta":{"content":"wörld \u00e9\n"}}],"usage":null})",
      R"({"id":"s","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}})",
      R"({"id":"s","choices":null,"usage":{"prompt_tokens":0,"completion_tokens":0}})",
      R"({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"get_weather","arguments":"{\"city\":"}}]}}]})",
      R"({"choices":[{"message":{"content":null,"tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"{}"}},"junk",{"function":"x"}]}}]})",
      R"({"choices":[{"delta":{"reasoning_content":"think","refusal":"no"}},{"text":"abc","message":{"content":"xyz"}}]})",
      // Anthropic-style usage names, negative and huge numbers, floats.
      R"({"choices":[{"text":"a"}],"usage":{"input_tokens":10,"output_tokens":4}})",
      R"({"choices":[{"text":"a"}],"usage":{"prompt_tokens":-5,"completion_tokens":18446744073709551615}})",
      R"({"choices":[{"text":"a"}],"usage":{"prompt_tokens":3.0,"input_tokens":2,"completion_tokens":"7"}})",
      R"({"choices":[{"text":"a"}],"usage":[1,2]})",
      // Errors.
      R"({"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}})",
      R"({"choices":[],"error":{"message":"quota"}})",
      R"({"error":"plain string"})",
      R"({"error":null,"choices":[{"text":"ok"}]})",
      R"({"error":[1]})",
      R"({"error":{"message":{"nested":"obj"}}})",
      // Look-alikes at the wrong depth must not count.
      R"({"x":{"choices":[{"text":"nested"}],"usage":{"prompt_tokens":99}},"choices":[{"text":"top"}]})",
      R"({"choices":[{"delta":{"content":"a","x":{"content":"deep"}}}],"meta":{"error":"not top"}})",
      R"({"choices":{"0":{"text":"object not array"}}})",
      R"({"choices":"none","data":{"a":1}})",
      R"({"data":[],"choices":[[{"text":"array in array"}]]})",
      // Not objects, broken, trailing garbage, empty.
      R"([{"choices":[]}])",
      R"("string")",
      "42",
      "null",
      "",
      "{",
      R"({"choices":[}")",
      R"({"choices":[]} trailing)",
      R"({"a":1}{"b":2})",
      "\xff\xfe",
  };
  return corpus;
}

TEST_CASE("the response scanner reads exactly what the DOM reading does", "[openai]") {
  for (const std::string& text : Corpus()) {
    INFO(text);
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    const bool object = j.is_object();

    ChunkInfo chunk = InspectChunk(text);
    CHECK(chunk.parsed == object);
    if (object) {
      auto e = j.find("error");
      bool is_error = e != j.end() && !e->is_null();
      CHECK(chunk.is_error == is_error);
      if (is_error) {
        std::string msg;
        if (e->is_object() && e->contains("message") && (*e)["message"].is_string())
          msg = (*e)["message"];
        CHECK(chunk.error_message == msg.substr(0, 200));
      } else {
        CHECK(SameUsage(chunk.usage, OracleUsage(j)));
        CHECK(chunk.output_chars == OracleChars(j));
        auto c = j.find("choices");
        bool no_choices = c == j.end() || c->is_null() || (c->is_array() && c->empty());
        CHECK(chunk.usage_only == (OracleUsage(j).has_value() && no_choices));
      }
    }

    for (bool embeddings : {false, true}) {
      BodyInfo body = InspectBody(text, embeddings);
      bool usable = false;
      if (object) {
        auto e = j.find("error");
        auto r = j.find(embeddings ? "data" : "choices");
        usable = (e == j.end() || e->is_null()) && r != j.end() && r->is_array();
      }
      CHECK(body.usable == usable);
      if (usable) {
        CHECK(SameUsage(body.usage, OracleUsage(j)));
        CHECK(body.output_chars == OracleChars(j));
      }
    }
    CHECK(SameUsage(UsageFromBody(text), object ? OracleUsage(j) : std::nullopt));
    CHECK(OutputCharsFromBody(text) == (object ? OracleChars(j) : 0));
  }
}

TEST_CASE("the response scanner keeps at most 200 bytes of an upstream error message", "[openai]") {
  std::string body = R"({"error":{"message":")" + std::string(500, 'x') + R"("}})";
  CHECK(InspectChunk(body).error_message == std::string(200, 'x'));
}

}  // namespace
}  // namespace signalbox
