// KeywordTable: the precompiled word and phrase lists of the classifier.
//
// Immutable after Build(); safe to share between threads. Built once per config in
// Classifier::Create() so that Classify() never lowercases, splits or allocates for a
// lookup: the scanner hashes each word as it reads it (ASCII case folded on the fly)
// and probes an open-addressing table with that 64-bit hash.
//
// Words are runs of ASCII letters, digits, '_' and non-ASCII letters. A phrase is a
// sequence of words separated only by spaces, hyphens or apostrophes, so the keyword
// "trade-off" matches "trade-off", "Trade off" and "trade - off" alike. Every proper
// prefix of a phrase is stored with kPrefix set, which lets the scanner follow a
// phrase word by word with one probe per word and partial match.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "classify/signals.h"

namespace signalbox::classify {

// Hash of one word: the bytes of [p, p + len) with ASCII case folded (each byte OR
// 0x20, which lowercases ASCII letters and leaves digits alone; '_' and non-ASCII bytes
// map consistently), taken eight at a time and mixed. `avail` is how many bytes may be
// read from p (>= len): with eight available, a short word is one unaligned load and a
// mask. The scanner and Add() hash the same byte spans, so they agree by construction.
inline uint64_t HashWord(const unsigned char* p, size_t len, size_t avail) {
  constexpr uint64_t kMul = 0xbf58476d1ce4e5b9ull;
  constexpr uint64_t kFold = 0x2020202020202020ull;
  uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    h = (h ^ (v | kFold)) * kMul;
    h ^= h >> 31;
  }
  if (i < len) {
    const size_t m = len - i;
    uint64_t v = 0;
    if (avail - i >= 8 && std::endian::native == std::endian::little) {
      std::memcpy(&v, p + i, 8);
      v = (v | kFold) & ((uint64_t{1} << (8 * m)) - 1);
    } else {
      for (size_t k = 0; k < m; ++k) {
        v |= uint64_t{static_cast<uint8_t>(p[i + k] | 0x20)} << (8 * k);
      }
    }
    h = (h ^ v) * kMul;
    h ^= h >> 31;
  }
  h ^= h >> 29;
  return h == 0 ? 1 : h;
}

// Hash of a phrase of which `prefix` is the hash of the words before `word`.
inline uint64_t ExtendPhrase(uint64_t prefix, uint64_t word) {
  uint64_t h = (prefix ^ (word + 0x9e3779b97f4a7c15ull + (prefix << 6) + (prefix >> 2)));
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  return h == 0 ? 1 : h;
}

class KeywordTable {
 public:
  static constexpr int kMaxClassesPerEntry = 3;
  static constexpr int kMaxPhraseWords = 6;

  struct Entry {
    uint64_t key = 0;  // 0 = empty slot
    float strength[kMaxClassesPerEntry] = {0, 0, 0};
    uint8_t cls[kMaxClassesPerEntry] = {0, 0, 0};
    uint8_t num_classes = 0;
    bool prefix = false;  // some longer phrase starts with these words
  };

  KeywordTable() = default;

  // Adds `keyword` (a word or phrase, any case) to class `cls` with `strength`. The same
  // keyword added to the same class again keeps the larger strength. Returns false (and
  // adds nothing) when the keyword holds no word, more than kMaxPhraseWords words, or is
  // a single one-character word (which would match everywhere).
  bool Add(std::string_view keyword, KeywordClass cls, float strength);

  // Freezes the table for lookups. REQUIRES: called once, after the last Add().
  void Build();

  // The entry for a word or phrase hash, or nullptr. Most words are not keywords: a
  // 16384-bit filter that fits in L1 answers most of those without touching the table.
  const Entry* Find(uint64_t key) const {
    if (!MayContain(key)) return nullptr;
    size_t i = Mix(key) & mask_;
    while (true) {
      const Entry& e = slots_[i];
      if (e.key == key) return &e;
      if (e.key == 0) return nullptr;
      i = (i + 1) & mask_;
    }
  }

  // False when `key` is certainly not in the table (one L1 load, no probe).
  bool MayContain(uint64_t key) const {
    const uint64_t bit = key >> 50;
    return (filter_[bit >> 6] >> (bit & 63)) & 1;
  }

  size_t size() const { return pending_.size(); }

  // Splits `text` into the words the scanner would see and returns their hashes.
  static std::vector<uint64_t> WordHashes(std::string_view text);

 private:
  static size_t Mix(uint64_t k) { return static_cast<size_t>((k * 0x9e3779b97f4a7c15ull) >> 17); }
  Entry& Upsert(uint64_t key);

  std::vector<Entry> pending_;                  // entries in insertion order until Build()
  std::unordered_map<uint64_t, size_t> index_;  // key -> position in pending_
  std::vector<Entry> slots_;
  size_t mask_ = 0;
  uint64_t filter_[256] = {};  // bit (key >> 50) set for every key in the table
};

}  // namespace signalbox::classify
