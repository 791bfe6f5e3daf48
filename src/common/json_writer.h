// JsonWriter: appends compact JSON to a string without building a DOM.
//
// One-per-use, not thread-safe. Used on the request path (access log lines, error
// bodies, response headers) where nlohmann's DOM would allocate per field. The caller
// is responsible for well-formed nesting; Key() inserts the comma and the colon.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace signalbox {

// Appends `s` to `out` as a JSON string literal (quotes included). Invalid UTF-8 bytes
// are replaced by U+FFFD so the output is always valid JSON.
void AppendJsonString(std::string& out, std::string_view s);

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& BeginObject() {
    Sep();
    out_ += '{';
    first_ = true;
    return *this;
  }
  JsonWriter& EndObject() {
    out_ += '}';
    first_ = false;
    return *this;
  }
  JsonWriter& BeginArray() {
    Sep();
    out_ += '[';
    first_ = true;
    return *this;
  }
  JsonWriter& EndArray() {
    out_ += ']';
    first_ = false;
    return *this;
  }
  JsonWriter& Key(std::string_view k);

  JsonWriter& String(std::string_view v) {
    Sep();
    AppendJsonString(out_, v);
    return *this;
  }
  JsonWriter& Int(int64_t v);
  JsonWriter& Double(double v);
  JsonWriter& Bool(bool v) {
    Sep();
    out_ += v ? "true" : "false";
    return *this;
  }
  JsonWriter& Null() {
    Sep();
    out_ += "null";
    return *this;
  }
  // Appends pre-serialised JSON verbatim.
  JsonWriter& Raw(std::string_view json) {
    Sep();
    out_ += json;
    return *this;
  }

  // Convenience: a key and a value.
  JsonWriter& Field(std::string_view k, std::string_view v) { return Key(k).String(v); }
  JsonWriter& Field(std::string_view k, const char* v) { return Key(k).String(v); }
  JsonWriter& Field(std::string_view k, int64_t v) { return Key(k).Int(v); }
  JsonWriter& Field(std::string_view k, int v) { return Key(k).Int(v); }
  JsonWriter& Field(std::string_view k, double v) { return Key(k).Double(v); }
  JsonWriter& Field(std::string_view k, bool v) { return Key(k).Bool(v); }
  JsonWriter& NullableField(std::string_view k, const std::optional<std::string>& v) {
    Key(k);
    return v ? String(*v) : Null();
  }

 private:
  void Sep() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_) out_ += ',';
    first_ = false;
  }
  std::string& out_;
  bool first_ = true;
  bool after_key_ = false;
};

}  // namespace signalbox
