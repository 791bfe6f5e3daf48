// Character classes shared by the text scanner and the keyword table, so that a
// keyword is split into words exactly as the scanner splits the text.
//
// Pure functions. ASCII is decided by a table lookup; a non-ASCII character is decoded
// from UTF-8 only to tell letters (any script: part of a word) from punctuation, math and
// logic symbols. Invalid UTF-8 bytes count as one-byte letters: the classifier never
// rejects text.
#pragma once

#include <cstddef>
#include <cstdint>

namespace signalbox::classify {

enum class CharKind : uint8_t {
  kSpace,        // space, tab, other ASCII controls
  kNewline,      // '\n', '\r'
  kLetter,       // ASCII letter, '_', or a non-ASCII letter of any script
  kDigit,        // '0'..'9'
  kJoiner,       // hyphen, apostrophe and their Unicode forms: inside a phrase
  kPunct,        // other punctuation: ends a phrase
  kMath,         // non-ASCII math or logic symbol: ∑ ≤ → ∨ ⊃ ≡ · × ¬ ...
  kQuestion,     // full-width question mark (ASCII '?' is kPunct, checked by value)
  kSentenceEnd,  // ideographic full stop and similar
  kBullet,       // • ‣ ◦ : a list item when it opens a line
};

struct CharInfo {
  CharKind kind;
  uint8_t len;  // bytes in the text
};

namespace internal {
// kind of each ASCII byte; filled at compile time.
struct AsciiTable {
  CharKind kind[128];
  constexpr AsciiTable() : kind() {
    for (int c = 0; c < 128; ++c) {
      CharKind k = CharKind::kPunct;
      if (c == '\n' || c == '\r')
        k = CharKind::kNewline;
      else if (c <= ' ' || c == 127)
        k = CharKind::kSpace;
      else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
        k = CharKind::kLetter;
      else if (c >= '0' && c <= '9')
        k = CharKind::kDigit;
      else if (c == '-' || c == '\'')
        k = CharKind::kJoiner;
      kind[c] = k;
    }
  }
};
inline constexpr AsciiTable kAscii;

inline CharKind KindOfCodepoint(uint32_t cp) {
  if (cp < 0xC0) {  // Latin-1 supplement symbols
    if (cp == 0xB1 || cp == 0xB2 || cp == 0xB3 || cp == 0xB7 || cp == 0xAC || cp == 0xB9 ||
        (cp >= 0xBC && cp <= 0xBE)) {
      return CharKind::kMath;
    }
    return cp == 0xA0 ? CharKind::kSpace : CharKind::kPunct;
  }
  if (cp == 0xD7 || cp == 0xF7) return CharKind::kMath;  // × ÷
  if (cp >= 0x2000 && cp <= 0x206F) {                    // general punctuation
    if (cp == 0x2018 || cp == 0x2019 || (cp >= 0x2010 && cp <= 0x2013)) return CharKind::kJoiner;
    if (cp == 0x2022 || cp == 0x2023) return CharKind::kBullet;
    if (cp <= 0x200B || cp == 0x202F || cp == 0x205F) return CharKind::kSpace;
    return CharKind::kPunct;
  }
  if (cp == 0x25E6) return CharKind::kBullet;
  if ((cp >= 0x2190 && cp <= 0x23FF) || (cp >= 0x27C0 && cp <= 0x27EF) ||
      (cp >= 0x2980 && cp <= 0x2AFF)) {
    return CharKind::kMath;  // arrows, math operators, misc technical, math brackets
  }
  if (cp >= 0x2500 && cp <= 0x27BF) return CharKind::kPunct;  // box drawing, shapes, dingbats
  if (cp == 0x3002 || cp == 0xFF0E || cp == 0xFF01) return CharKind::kSentenceEnd;
  if (cp == 0xFF1F) return CharKind::kQuestion;
  if (cp == 0x3000) return CharKind::kSpace;
  if ((cp >= 0x3001 && cp <= 0x303F) || (cp >= 0xFF00 && cp <= 0xFF0F)) return CharKind::kPunct;
  return CharKind::kLetter;
}
}  // namespace internal

// The character at p[0] (REQUIRES: avail >= 1).
inline CharInfo ClassifyChar(const unsigned char* p, size_t avail) {
  unsigned char c = p[0];
  if (c < 0x80) return {internal::kAscii.kind[c], 1};
  uint32_t cp;
  uint8_t len;
  if ((c & 0xE0) == 0xC0) {
    cp = c & 0x1F;
    len = 2;
  } else if ((c & 0xF0) == 0xE0) {
    cp = c & 0x0F;
    len = 3;
  } else if ((c & 0xF8) == 0xF0) {
    cp = c & 0x07;
    len = 4;
  } else
    return {CharKind::kLetter, 1};
  if (len > avail) return {CharKind::kLetter, 1};
  for (uint8_t i = 1; i < len; ++i) {
    if ((p[i] & 0xC0) != 0x80) return {CharKind::kLetter, 1};
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  return {internal::KindOfCodepoint(cp), len};
}

// Token cost, in quarter tokens, of a non-ASCII character of `len` bytes: accented
// Latin, Cyrillic, Greek... about half a token; CJK and symbols about one; emoji two.
inline uint32_t NonAsciiQuarters(uint8_t len) { return len == 2 ? 2 : len == 3 ? 4 : 8; }

namespace internal {
// Per byte: kWordBit for an ASCII letter, digit or '_'; kNonAsciiBit for a byte >= 0x80
// (decode to decide); plus what the byte is, for the word's flags.
inline constexpr uint8_t kWordBit = 1, kAlphaBit = 2, kUpperBit = 4, kUnderBit = 8,
                         kNonAsciiBit = 16;
struct WordByteTable {
  uint8_t v[256];
  constexpr WordByteTable() : v() {
    for (int c = 0; c < 256; ++c) {
      uint8_t f = 0;
      if (c >= 'a' && c <= 'z') f = kWordBit | kAlphaBit;
      if (c >= 'A' && c <= 'Z') f = kWordBit | kAlphaBit | kUpperBit;
      if (c >= '0' && c <= '9') f = kWordBit;
      if (c == '_') f = kWordBit | kUnderBit;
      if (c >= 0x80) f = kNonAsciiBit;
      v[c] = f;
    }
  }
};
inline constexpr WordByteTable kWordByte;
}  // namespace internal

// A word: ASCII letters, digits and '_', and non-ASCII letters of any script.
struct WordSpan {
  size_t end;                     // one past the last byte
  uint32_t ascii;                 // ASCII bytes in the word
  uint32_t extra_quarters;        // token cost of its non-ASCII characters
  bool letters;                   // holds a letter (not only digits and '_')
  bool mixed_case_or_underscore;  // a capital after the first byte, or a '_'
};

// The word that starts at p[i]. REQUIRES: p[i] is a letter (CharKind::kLetter).
// One table lookup per ASCII byte; UTF-8 is decoded only for non-ASCII bytes.
inline WordSpan ScanWordSpan(const unsigned char* p, size_t n, size_t i) {
  using namespace internal;
  WordSpan w{i, 0, 0, false, false};
  uint32_t non_ascii_bytes = 0;
  size_t j = i;
  // A capital opening the word is ordinary ("The"); later ones hint at camelCase.
  uint8_t f = kWordByte.v[p[j]];
  uint8_t flags = static_cast<uint8_t>(f & ~kUpperBit);
  if (f & kWordBit) ++j;
  while (true) {
    while (j < n && ((f = kWordByte.v[p[j]]) & kWordBit)) {
      flags |= f;
      ++j;
    }
    if (j >= n || !(f & kNonAsciiBit)) break;
    const CharInfo ci = ClassifyChar(p + j, n - j);
    if (ci.kind != CharKind::kLetter) break;
    flags |= kAlphaBit;
    w.extra_quarters += NonAsciiQuarters(ci.len);
    non_ascii_bytes += ci.len;
    j += ci.len;
  }
  w.end = j;
  w.ascii = static_cast<uint32_t>(j - i) - non_ascii_bytes;
  w.letters = (flags & kAlphaBit) != 0;
  w.mixed_case_or_underscore = (flags & (kUpperBit | kUnderBit)) != 0;
  return w;
}

// A number: digits with inner '.' or ',' ("3.14", "1,000"). Sets *digits.
// REQUIRES: p[i] is a digit.
inline size_t ScanNumberSpan(const unsigned char* p, size_t n, size_t i, uint32_t* digits) {
  uint32_t d = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c >= '0' && c <= '9') {
      ++d;
      ++i;
    } else if ((c == '.' || c == ',') && i + 1 < n && p[i + 1] >= '0' && p[i + 1] <= '9') {
      ++i;
    } else {
      break;
    }
  }
  *digits = d;
  return i;
}

// True for a single Greek letter codepoint (a math variable such as α or θ when it
// stands alone as a word).
inline bool IsGreekLetter(const unsigned char* p, size_t len) {
  if (len != 2) return false;
  uint32_t cp = ((p[0] & 0x1Fu) << 6) | (p[1] & 0x3Fu);
  return cp >= 0x391 && cp <= 0x3C9;
}

}  // namespace signalbox::classify
