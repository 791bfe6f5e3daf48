#include "openai/json_edit.h"

#include <algorithm>
#include <cstdint>
#include <set>

namespace signalbox {
namespace {

bool IsWs(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

size_t SkipWs(std::string_view s, size_t i) {
  while (i < s.size() && IsWs(s[i])) ++i;
  return i;
}

// s[i] is '"'. Returns the index one past the closing quote, or npos.
size_t SkipString(std::string_view s, size_t i) {
  ++i;
  while (i < s.size()) {
    char c = s[i];
    if (c == '\\') {
      i += 2;
      continue;
    }
    if (c == '"') return i + 1;
    ++i;
  }
  return std::string_view::npos;
}

// Skips one JSON value starting at s[i]; returns one past its end or npos.
size_t SkipValue(std::string_view s, size_t i) {
  if (i >= s.size()) return std::string_view::npos;
  char c = s[i];
  if (c == '"') return SkipString(s, i);
  if (c == '{' || c == '[') {
    size_t depth = 0;
    while (i < s.size()) {
      char d = s[i];
      if (d == '"') {
        i = SkipString(s, i);
        if (i == std::string_view::npos) return i;
        continue;
      }
      if (d == '{' || d == '[') ++depth;
      if (d == '}' || d == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return std::string_view::npos;
  }
  // number, true, false, null
  size_t j = i;
  while (j < s.size() && !IsWs(s[j]) && s[j] != ',' && s[j] != '}' && s[j] != ']') ++j;
  return j == i ? std::string_view::npos : j;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Decodes the body of a JSON string literal (without quotes). Keys are short; a key
// with escapes is rare but must decode like any JSON parser would, or a client could
// smuggle a second "model" past the gateway as "mod\u0065l".
std::string DecodeKey(std::string_view raw) {
  if (raw.find('\\') == std::string_view::npos) return std::string(raw);
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\' || i + 1 >= raw.size()) {
      out += raw[i];
      continue;
    }
    char e = raw[++i];
    switch (e) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'u': {
        auto hex4 = [&](size_t at, uint32_t* v) {
          if (at + 4 > raw.size()) return false;
          *v = 0;
          for (size_t k = at; k < at + 4; ++k) {
            char h = raw[k];
            *v <<= 4;
            if (h >= '0' && h <= '9')
              *v |= h - '0';
            else if (h >= 'a' && h <= 'f')
              *v |= h - 'a' + 10;
            else if (h >= 'A' && h <= 'F')
              *v |= h - 'A' + 10;
            else
              return false;
          }
          return true;
        };
        uint32_t cp;
        if (!hex4(i + 1, &cp)) break;
        i += 4;
        uint32_t lo;
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 2 < raw.size() && raw[i + 1] == '\\' &&
            raw[i + 2] == 'u' && hex4(i + 3, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          i += 6;
        }
        AppendUtf8(out, cp);
        break;
      }
      default:
        out += e;  // \" \\ \/
    }
  }
  return out;
}

}  // namespace

std::optional<JsonObjectScan> ScanJsonObject(std::string_view s) {
  JsonObjectScan scan;
  size_t i = SkipWs(s, 0);
  if (i >= s.size() || s[i] != '{') return std::nullopt;
  scan.open_brace = i;
  i = SkipWs(s, i + 1);
  std::set<std::string> seen;
  if (i < s.size() && s[i] == '}') {
    scan.close_brace = i;
    return scan;
  }
  while (i < s.size()) {
    if (s[i] != '"') return std::nullopt;
    JsonMember m;
    m.key_begin = i;
    size_t key_end = SkipString(s, i);
    if (key_end == std::string_view::npos) return std::nullopt;
    m.key = DecodeKey(s.substr(i + 1, key_end - i - 2));
    i = SkipWs(s, key_end);
    if (i >= s.size() || s[i] != ':') return std::nullopt;
    i = SkipWs(s, i + 1);
    m.value_begin = i;
    m.value_end = SkipValue(s, i);
    if (m.value_end == std::string_view::npos) return std::nullopt;
    if (!seen.insert(m.key).second && !scan.duplicate_keys) {
      scan.duplicate_keys = true;
      scan.duplicate = m.key;
    }
    scan.members.push_back(std::move(m));
    i = SkipWs(s, scan.members.back().value_end);
    if (i >= s.size()) return std::nullopt;
    if (s[i] == '}') {
      scan.close_brace = i;
      return scan;
    }
    if (s[i] != ',') return std::nullopt;
    i = SkipWs(s, i + 1);
  }
  return std::nullopt;
}

std::string ApplyJsonEdits(std::string_view json, const JsonObjectScan& scan,
                           const std::vector<JsonEdit>& edits) {
  // Each replacement is a byte range [begin, end) of the input and its new text.
  struct Splice {
    size_t begin, end;
    std::string text;
  };
  std::vector<Splice> splices;
  std::string appended;
  const auto& ms = scan.members;
  size_t removed = 0;
  for (const auto& e : edits) {
    auto it =
        std::find_if(ms.begin(), ms.end(), [&](const JsonMember& m) { return m.key == e.key; });
    if (it == ms.end()) {
      if (!e.raw_value) continue;
      std::string member = "\"" + e.key + "\":" + *e.raw_value;
      appended += "," + member;
      continue;
    }
    size_t idx = static_cast<size_t>(it - ms.begin());
    if (e.raw_value) {
      splices.push_back({it->value_begin, it->value_end, *e.raw_value});
    } else if (++removed, idx > 0) {
      splices.push_back({ms[idx - 1].value_end, it->value_end, ""});
    } else if (ms.size() > 1) {
      splices.push_back({it->key_begin, ms[1].key_begin, ""});
    } else {
      splices.push_back({it->key_begin, it->value_end, ""});
    }
  }
  std::sort(splices.begin(), splices.end(),
            [](const Splice& a, const Splice& b) { return a.begin < b.begin; });
  std::string out;
  out.reserve(json.size() + 64 + appended.size());
  size_t pos = 0;
  if (removed == ms.size() && !appended.empty()) appended.erase(0, 1);  // no leading comma
  for (const auto& sp : splices) {
    if (sp.begin < pos) continue;  // overlapping removals of neighbours: first one wins
    out.append(json.data() + pos, sp.begin - pos);
    out += sp.text;
    pos = sp.end;
  }
  if (!appended.empty()) {
    out.append(json.data() + pos, scan.close_brace - pos);
    out += appended;
    pos = scan.close_brace;
  }
  out.append(json.data() + pos, json.size() - pos);
  return out;
}

}  // namespace signalbox
