#include "common/json_writer.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using signalbox::AppendJsonString;
using signalbox::JsonWriter;

TEST_CASE("AppendJsonString escapes and stays valid UTF-8", "[common]") {
  struct Case {
    std::string in;
    std::string want;
  };
  std::vector<Case> cases = {
      {"plain", "\"plain\""},
      {"q\"b\\", "\"q\\\"b\\\\\""},
      {"a\nb\r\t", "\"a\\nb\\r\\t\""},
      {std::string("\x01", 1), "\"\\u0001\""},
      {"caf\xC3\xA9", "\"caf\xC3\xA9\""},
      {"bad\xFF", "\"bad\xEF\xBF\xBD\""},
      {"trunc\xE2\x82", "\"trunc\xEF\xBF\xBD\xEF\xBF\xBD\""},
  };
  for (const auto& c : cases) {
    std::string out;
    AppendJsonString(out, c.in);
    CHECK(out == c.want);
    CHECK_NOTHROW(nlohmann::json::parse(out));
  }
}

TEST_CASE("JsonWriter builds nested objects", "[common]") {
  std::string out;
  JsonWriter w(out);
  w.BeginObject()
      .Field("a", 1)
      .Key("b")
      .BeginArray()
      .Int(1)
      .String("x")
      .Null()
      .EndArray()
      .Field("c", 0.5)
      .Field("d", true)
      .EndObject();
  CHECK(out == R"({"a":1,"b":[1,"x",null],"c":0.5,"d":true})");
}
