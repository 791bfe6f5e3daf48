#include "openai/json_edit.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace signalbox;

namespace {

std::string Edit(const std::string& in, std::vector<JsonEdit> edits) {
  auto scan = ScanJsonObject(in);
  REQUIRE(scan);
  REQUIRE_FALSE(scan->duplicate_keys);
  std::string out = ApplyJsonEdits(in, *scan, edits);
  REQUIRE_NOTHROW(nlohmann::json::parse(out));
  return out;
}

}  // namespace

TEST_CASE("model is replaced in place, every other byte kept", "[openai][rewrite]") {
  std::string in =
      R"({ "model" : "auto", "temperature": 0.70, "messages":[{"role":"user","content":"a \"model\": x"}], "x": {"model":"inner"}})";
  std::string out = Edit(in, {{"model", "\"gpt-4o\""}});
  CHECK(
      out ==
      R"({ "model" : "gpt-4o", "temperature": 0.70, "messages":[{"role":"user","content":"a \"model\": x"}], "x": {"model":"inner"}})");
}

TEST_CASE("stream_options is added, replaced or removed", "[openai][rewrite]") {
  std::string opts = R"({"include_usage":true})";
  CHECK(Edit(R"({"model":"a","stream":true})", {{"stream_options", opts}}) ==
        R"({"model":"a","stream":true,"stream_options":{"include_usage":true}})");
  CHECK(Edit(R"({"stream_options":{"include_usage":false},"model":"a"})",
             {{"stream_options", opts}}) ==
        R"({"stream_options":{"include_usage":true},"model":"a"})");
  CHECK(Edit(R"({"model":"a","stream_options":{"x":1},"n":1})",
             {{"stream_options", std::nullopt}}) == R"({"model":"a","n":1})");
  CHECK(Edit(R"({"stream_options":{"x":1}, "model":"a"})", {{"stream_options", std::nullopt}}) ==
        R"({"model":"a"})");
  CHECK(Edit(R"({"model":"a"})", {{"absent", std::nullopt}}) == R"({"model":"a"})");
  CHECK(Edit(R"({})", {{"model", "\"m\""}}) == R"({"model":"m"})");
}

TEST_CASE("escaped keys decode like a JSON parser, duplicates are detected", "[openai][rewrite]") {
  auto scan = ScanJsonObject(R"({"model":"auto","mod\u0065l":"gpt-4o"})");
  REQUIRE(scan);
  CHECK(scan->duplicate_keys);
  CHECK(scan->duplicate == "model");
  auto scan2 = ScanJsonObject(R"({"a\"b":1,"\ud83d\ude00":2})");
  REQUIRE(scan2);
  CHECK(scan2->members[0].key == "a\"b");
  CHECK(scan2->members[1].key == "\xF0\x9F\x98\x80");
}

TEST_CASE("the scanner rejects what is not one object", "[openai][rewrite]") {
  CHECK_FALSE(ScanJsonObject("[1,2]"));
  CHECK_FALSE(ScanJsonObject(R"({"a":1)"));
  CHECK_FALSE(ScanJsonObject(R"({"a" 1})"));
  CHECK_FALSE(ScanJsonObject(R"({"a":"unterminated})"));
  CHECK(ScanJsonObject(" {\"a\" : [1, {\"b\": \"}\"}] } "));
}
