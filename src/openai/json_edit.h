// In-place edits of a JSON object's top-level members, without re-serialising it.
//
// Forwarding must keep every field the client sent but `model` (and, for streams,
// `stream_options`). Parsing and dumping a whole body with nlohmann costs ~10 µs per KB
// and may reorder or reformat numbers; splicing the raw text costs a copy.
//
// Pure functions; the scanner walks the text once with an explicit depth counter (no
// recursion, so hostile nesting cannot overflow the stack).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace signalbox {

struct JsonMember {
  std::string key;     // decoded key (escapes resolved)
  size_t key_begin;    // offset of the key's opening quote
  size_t value_begin;  // offset of the value's first byte
  size_t value_end;    // one past the value's last byte
};

struct JsonObjectScan {
  std::vector<JsonMember> members;
  size_t open_brace = 0;
  size_t close_brace = 0;
  bool duplicate_keys = false;  // two members decode to the same key
  std::string duplicate;        // the first duplicated key
};

// Scans the top level of a JSON object. Returns nullopt if `json` is not one JSON object
// (the caller has already validated it with a full parser; this is a second, cheap walk).
std::optional<JsonObjectScan> ScanJsonObject(std::string_view json);

// One edit: set `key` to `raw_value` (serialised JSON), adding it if absent, or remove
// the member when raw_value is nullopt.
struct JsonEdit {
  std::string key;
  std::optional<std::string> raw_value;
};

// Applies the edits and returns the new text.
// REQUIRES: scan is ScanJsonObject(json) and has no duplicate keys.
std::string ApplyJsonEdits(std::string_view json, const JsonObjectScan& scan,
                           const std::vector<JsonEdit>& edits);

}  // namespace signalbox
