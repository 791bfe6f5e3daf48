#include "classify/keyword_table.h"

#include <algorithm>
#include <cctype>

#include "classify/char_class.h"

namespace signalbox::classify {

std::vector<uint64_t> KeywordTable::WordHashes(std::string_view text) {
  std::vector<uint64_t> out;
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const CharInfo ci = ClassifyChar(p + i, n - i);
    if (ci.kind == CharKind::kLetter) {
      const WordSpan w = ScanWordSpan(p, n, i);
      if (w.letters) out.push_back(HashWord(p + i, w.end - i, n - i));
      i = w.end;
    } else if (ci.kind == CharKind::kDigit) {
      uint32_t digits;
      const size_t end = ScanNumberSpan(p, n, i, &digits);
      out.push_back(HashWord(p + i, end - i, n - i));
      i = end;
    } else {
      i += ci.len;
    }
  }
  return out;
}

KeywordTable::Entry& KeywordTable::Upsert(uint64_t key) {
  auto [it, inserted] = index_.try_emplace(key, pending_.size());
  if (inserted) {
    pending_.emplace_back();
    pending_.back().key = key;
  }
  return pending_[it->second];
}

bool KeywordTable::Add(std::string_view keyword, KeywordClass cls, float strength) {
  std::vector<uint64_t> words = WordHashes(keyword);
  if (words.empty() || words.size() > static_cast<size_t>(kMaxPhraseWords)) return false;
  if (words.size() == 1) {
    // A one-character word ("c" from "C++", "a") would match nearly every text.
    size_t letters = 0;
    for (unsigned char c : keyword) letters += (c >= 0x80 || std::isalnum(c)) ? 1 : 0;
    if (letters < 2) return false;
  }
  // Register every proper prefix so the scanner can follow the phrase.
  uint64_t h = words[0];
  for (size_t i = 1; i < words.size(); ++i) {
    Upsert(h).prefix = true;
    h = ExtendPhrase(h, words[i]);
  }
  Entry& e = Upsert(h);
  for (int k = 0; k < e.num_classes; ++k) {
    if (e.cls[k] == cls) {
      e.strength[k] = std::max(e.strength[k], strength);
      return true;
    }
  }
  if (e.num_classes == kMaxClassesPerEntry) return false;
  e.cls[e.num_classes] = cls;
  e.strength[e.num_classes] = strength;
  ++e.num_classes;
  return true;
}

void KeywordTable::Build() {
  for (const Entry& e : pending_) {
    const uint64_t bit = e.key >> 50;
    filter_[bit >> 6] |= uint64_t{1} << (bit & 63);
  }
  size_t cap = 16;
  while (cap < pending_.size() * 2) cap <<= 1;
  slots_.assign(cap, Entry{});
  mask_ = cap - 1;
  for (const Entry& e : pending_) {
    size_t i = Mix(e.key) & mask_;
    while (slots_[i].key != 0) i = (i + 1) & mask_;
    slots_[i] = e;
  }
}

}  // namespace signalbox::classify
