#include "classify/text_scanner.h"

#include <algorithm>

#include "classify/char_class.h"

namespace signalbox::classify {

void TextStats::AddScaled(const TextStats& o, double w) {
  words += w * o.words;
  sentences += w * o.sentences;
  questions += w * o.questions;
  numbers += w * o.numbers;
  math_ops += w * o.math_ops;
  math_symbols += w * o.math_symbols;
  code_fences += w * o.code_fences;
  code_syntax += w * o.code_syntax;
  list_items += w * o.list_items;
  for (int i = 0; i < kNumKeywordClasses; ++i) kw[i] += w * o.kw[i];
  if (!opened && o.opened) {
    opened = true;
    opening_classes = o.opening_classes;
  }
}

namespace {

inline bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
inline bool IsAlpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool IsAlnum(unsigned char c) { return IsDigit(c) || IsAlpha(c); }
inline bool IsLower(unsigned char c) { return c >= 'a' && c <= 'z'; }
inline bool IsUpper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
inline bool IsBlank(unsigned char c) { return c == ' ' || c == '\t'; }

// True for an identifier in snake_case or camelCase. Two characters or more on each side
// of the '_', and two lowercase letters before a capital: x_1, S_n, iPhone and McDonald
// are not code.
bool LooksLikeIdentifier(const unsigned char* p, size_t len) {
  int run = 0, lowers = 0;
  for (size_t i = 0; i < len; ++i) {
    const unsigned char c = p[i];
    if (c == '_') {
      if (run >= 2 && i + 2 < len && IsAlnum(p[i + 1]) && IsAlnum(p[i + 2])) return true;
      run = lowers = 0;
      continue;
    }
    ++run;
    if (IsUpper(c) && lowers >= 2 && i + 1 < len && IsLower(p[i + 1])) return true;
    lowers = IsLower(c) ? lowers + 1 : 0;
  }
  return false;
}

// The state of one scan: a cursor, the phrases being followed, the current line, and
// the token estimate in quarter tokens. One per Scan() call, on the caller's stack.
class Pass {
 public:
  Pass(const KeywordTable* table, std::string_view text, TextStats* out)
      : table_(table),
        p_(reinterpret_cast<const unsigned char*>(text.data())),
        n_(text.size()),
        out_(*out) {}

  // Returns the estimated tokens.
  int64_t Run();

 private:
  static constexpr int kMaxActive = KeywordTable::kMaxPhraseWords;

  void ScanBlank(CharInfo ci);
  void OnNonAsciiSymbol(CharInfo ci);
  void ScanWord();
  void ScanNumber();
  void OnWord(uint64_t hash);
  void Match(uint64_t key, int len, uint64_t* next_h, uint8_t* next_len, int* next_n);
  void OnLineOpening();
  void OnLineEnd();
  size_t OnPunct();
  size_t OnOperator(unsigned char c, unsigned char next);
  void MathOp(size_t width);
  size_t CodeToken(size_t width) {
    out_.code_syntax += 1;
    return width;
  }
  unsigned char At(size_t i) const { return i < n_ ? p_[i] : 0; }
  // ASCII punctuation costs a token, and half a token more per byte in the same run.
  void PricePunct(size_t bytes) {
    quarters_ += (prev_punct_ ? 2 : 4) + 2 * (static_cast<int64_t>(bytes) - 1);
    prev_punct_ = true;
  }

  const KeywordTable* table_;  // nullptr: count tokens only
  const unsigned char* p_;
  size_t n_;
  TextStats& out_;
  size_t i_ = 0;
  int64_t quarters_ = 0;
  bool prev_punct_ = false;  // the previous byte was ASCII punctuation

  // Phrases matched so far that longer keywords continue: hash and length in words.
  uint64_t active_h_[kMaxActive] = {};
  uint8_t active_len_[kMaxActive] = {};
  int n_active_ = 0;
  size_t word_index_ = 0;   // words and numbers seen, for keywords that open the text
  bool after_dot_ = false;  // the next word follows "name." directly (a file extension?)

  bool line_open_ = true;        // no visible character yet on this line
  unsigned char line_last_ = 0;  // last visible byte of the line
};

int64_t Pass::Run() {
  while (i_ < n_) {
    const unsigned char c = p_[i_];
    const CharInfo ci =
        c < 0x80 ? CharInfo{internal::kAscii.kind[c], 1} : ClassifyChar(p_ + i_, n_ - i_);
    if (ci.kind == CharKind::kSpace || ci.kind == CharKind::kNewline) {
      ScanBlank(ci);
      continue;
    }
    if (line_open_) {
      line_open_ = false;
      OnLineOpening();
      if (ci.kind == CharKind::kBullet) out_.list_items += 1;
    }
    if (ci.kind == CharKind::kLetter) {
      // Words separated by single spaces are most of any text: stay in this loop for them.
      while (true) {
        ScanWord();
        if (At(i_) != ' ' || (internal::kWordByte.v[At(i_ + 1)] & internal::kAlphaBit) == 0) break;
        ++i_;
      }
      prev_punct_ = false;
    } else if (ci.kind == CharKind::kDigit) {
      ScanNumber();
      prev_punct_ = false;
    } else if (c < 0x80) {  // ASCII punctuation, hyphen and apostrophe included
      line_last_ = c;
      const size_t used = OnPunct();
      PricePunct(used);
      i_ += used;
      // A hyphen or an apostrophe keeps a phrase going ("trade-off", "don't").
      if (ci.kind != CharKind::kJoiner) n_active_ = 0;
    } else {
      OnNonAsciiSymbol(ci);
    }
  }
  OnLineEnd();
  if (!out_.opened) out_.opened = word_index_ > 0;
  return (quarters_ + 3) / 4;
}

// Spaces and newlines at i_. One space joins the next word's token; a longer run of
// spaces (indentation) is a token, and so is a run of newlines, which also ends lines
// and phrases.
void Pass::ScanBlank(CharInfo ci) {
  prev_punct_ = false;
  if (ci.kind == CharKind::kNewline) {
    while (i_ < n_ && (p_[i_] == '\n' || p_[i_] == '\r')) {
      if (p_[i_] == '\n') OnLineEnd();
      ++i_;
    }
    quarters_ += 4;
    n_active_ = 0;
  } else if (p_[i_] >= 0x80) {  // no-break space and the like
    quarters_ += NonAsciiQuarters(ci.len);
    i_ += ci.len;
  } else {  // spaces, tabs and other ASCII controls
    size_t j = i_ + 1;
    while (j < n_ && p_[j] < 0x80 && internal::kAscii.kind[p_[j]] == CharKind::kSpace) ++j;
    if (j - i_ > 1) quarters_ += 4;
    i_ = j;
  }
}

// A non-ASCII character that is not a letter: a math symbol, a question mark or full
// stop of another script, a joiner (’ –), or other punctuation.
void Pass::OnNonAsciiSymbol(CharInfo ci) {
  quarters_ += NonAsciiQuarters(ci.len);
  prev_punct_ = false;
  i_ += ci.len;
  switch (ci.kind) {
    case CharKind::kJoiner:
      return;  // keeps a phrase going
    case CharKind::kMath:
      out_.math_symbols += 1;
      line_last_ = 0x80;
      break;
    case CharKind::kQuestion:
      out_.questions += 1;
      out_.sentences += 1;
      break;
    case CharKind::kSentenceEnd:
      out_.sentences += 1;
      break;
    default:
      break;
  }
  n_active_ = 0;
}

// A word starts at i_. A word costs a token, and a quarter more per ASCII byte beyond 6.
void Pass::ScanWord() {
  const size_t start = i_;
  const WordSpan w = ScanWordSpan(p_, n_, i_);
  i_ = w.end;
  const size_t len = w.end - start;
  quarters_ += w.extra_quarters + (w.ascii > 0 ? 4 + (w.ascii > 6 ? w.ascii - 6 : 0) : 0);
  line_last_ = 'a';
  if (!w.letters) {  // "____" (a blank to fill in) is not a word
    n_active_ = 0;
    after_dot_ = false;
    return;
  }
  out_.words += 1;
  if (w.mixed_case_or_underscore && len >= 4 && LooksLikeIdentifier(p_ + start, len)) {
    out_.code_syntax += 1;
  }
  if (len == 2 && IsGreekLetter(p_ + start, 2)) out_.math_symbols += 1;
  if (table_ != nullptr) OnWord(HashWord(p_ + start, len, n_ - start));
  after_dot_ = false;
}

// A number costs a token per three digits. It is a word for phrase matching ("top 10");
// a letter right after it starts a new word ("3x" = 3, x).
void Pass::ScanNumber() {
  const size_t start = i_;
  uint32_t digits;
  i_ = ScanNumberSpan(p_, n_, i_, &digits);
  quarters_ += 4 * ((digits + 2) / 3);
  line_last_ = '0';
  out_.numbers += 1;
  if (table_ != nullptr) OnWord(HashWord(p_ + start, i_ - start, n_ - start));
  after_dot_ = false;
}

void Pass::OnWord(uint64_t hash) {
  // Most words are no keyword and continue no phrase.
  if (n_active_ == 0 && !table_->MayContain(hash)) {
    ++word_index_;
    return;
  }
  uint64_t next_h[kMaxActive];
  uint8_t next_len[kMaxActive];
  int next_n = 0;
  Match(hash, 1, next_h, next_len, &next_n);
  for (int a = 0; a < n_active_; ++a) {
    if (active_len_[a] >= KeywordTable::kMaxPhraseWords) continue;
    Match(ExtendPhrase(active_h_[a], hash), active_len_[a] + 1, next_h, next_len, &next_n);
  }
  for (int a = 0; a < next_n; ++a) {
    active_h_[a] = next_h[a];
    active_len_[a] = next_len[a];
  }
  n_active_ = next_n;
  ++word_index_;
}

// Counts the keyword `key` (the last `len` words) if it is one, and keeps following it
// if a longer keyword starts with it.
void Pass::Match(uint64_t key, int len, uint64_t* next_h, uint8_t* next_len, int* next_n) {
  const KeywordTable::Entry* e = table_->Find(key);
  if (e == nullptr) return;
  const bool opening = !out_.opened && word_index_ + 1 == static_cast<size_t>(len);
  for (int k = 0; k < e->num_classes; ++k) {
    const uint8_t cls = e->cls[k];
    if (cls == kKwFileExt && !(after_dot_ && len == 1)) continue;
    out_.kw[cls] += e->strength[k];
    if (opening) out_.opening_classes |= 1u << cls;
  }
  if (e->prefix && *next_n < kMaxActive) {
    next_h[*next_n] = key;
    next_len[*next_n] = static_cast<uint8_t>(len);
    ++*next_n;
  }
}

// The first visible character of a line: list items, preprocessor lines, shell prompts.
void Pass::OnLineOpening() {
  const unsigned char c = p_[i_];
  if (IsDigit(c)) {
    size_t j = i_;
    while (j < n_ && j - i_ < 3 && IsDigit(p_[j])) ++j;
    if ((At(j) == '.' || At(j) == ')') && IsBlank(At(j + 1))) out_.list_items += 1;
  } else if ((c == '-' || c == '*' || c == '+') && IsBlank(At(i_ + 1))) {
    out_.list_items += 1;
  } else if (c == '#') {
    std::string_view rest(reinterpret_cast<const char*>(p_ + i_ + 1),
                          std::min<size_t>(7, n_ - i_ - 1));
    if (rest.starts_with("include") || rest.starts_with("define") || rest.starts_with("!/") ||
        rest.starts_with("pragma")) {
      out_.code_syntax += 2;
    }
  } else if (c == '$' && At(i_ + 1) == ' ') {
    out_.code_syntax += 1;  // a shell prompt
  }
}

void Pass::OnLineEnd() {
  if (line_last_ == ';' || line_last_ == '{' || line_last_ == '}') out_.code_syntax += 1;
  line_open_ = true;
  line_last_ = 0;
}

// Records an operator if it stands between two operands ("x = 3", "2*(a+b)", "n^2").
void Pass::MathOp(size_t width) {
  size_t l = i_;
  if (l > 0 && p_[l - 1] == ' ') --l;
  const unsigned char left = l > 0 ? p_[l - 1] : 0;
  size_t r = i_ + width;
  if (At(r) == ' ') ++r;
  const unsigned char right = At(r);
  const bool lop = IsAlnum(left) || left == ')' || left == ']';
  const bool rop = IsAlnum(right) || right == '(' || right == '[' || right >= 0x80 ||
                   (right == '-' && IsDigit(At(r + 1)));
  if (!lop || !rop) return;
  const unsigned char c = p_[i_];
  // A minus needs a digit or a bracket after it ("x-1", "5 - (a+b)"), or a digit
  // before it with spaces around ("5 - x"): "3-day", "well-known" and dashes are not.
  if (c == '-' && !IsDigit(right) && right != '(' &&
      !(IsDigit(left) && At(i_ - 1) == ' ' && At(i_ + 1) == ' ')) {
    return;
  }
  if (c == '/' && !IsDigit(left) && !IsDigit(right) && (At(i_ - 1) != ' ' || At(i_ + 1) != ' ')) {
    return;  // and/or, km/h, a/path
  }
  out_.math_ops += 1;
}

// One ASCII punctuation byte at i_ (with a look at its neighbours). Returns the number
// of bytes it consumed (2 for "==", the whole run for ```).
size_t Pass::OnPunct() {
  const unsigned char c = p_[i_];
  const unsigned char next = At(i_ + 1);
  switch (c) {
    case '?':
      if (i_ == 0 || p_[i_ - 1] != '?') {
        out_.questions += 1;
        out_.sentences += 1;
      }
      return 1;
    case '.':
      if (i_ > 0 && IsAlnum(p_[i_ - 1]) && IsAlpha(next)) {
        after_dot_ = true;  // name.ext, obj.method
        return 1;
      }
      [[fallthrough]];
    case '!':
      if (c == '!' && next == '=') return CodeToken(2);
      if ((next == 0 || next == ' ' || next == '\n' || next == '\t' || next == '"') &&
          (i_ == 0 || p_[i_ - 1] != '.')) {
        out_.sentences += 1;
      }
      return 1;
    case '`': {
      size_t j = i_;
      while (j < n_ && p_[j] == '`') ++j;
      if (j - i_ >= 3) out_.code_fences += 1;
      return j - i_;
    }
    case ':':
      return next == ':' ? CodeToken(2) : 1;
    case '&':
      return next == '&' ? CodeToken(2) : 1;
    case '|':
      return next == '|' ? CodeToken(2) : 1;
    case '(':
      if (next == ')' && i_ > 0 && (IsAlnum(p_[i_ - 1]) || p_[i_ - 1] == '_')) return CodeToken(2);
      return 1;
    case '\\':
      if (IsAlpha(next) && IsAlpha(At(i_ + 2))) out_.math_symbols += 1;  // \frac: LaTeX
      return 1;
    case '~':
      if ((IsAlpha(next) || next == '(') && (i_ == 0 || !IsAlnum(p_[i_ - 1]))) {
        out_.math_symbols += 1;  // ~P: logical negation
      }
      return 1;
    default:
      return OnOperator(c, next);
  }
}

// = - + < > * / ^ at i_: a two-byte code operator (== -> => != ++ += </ />), markdown
// (** ---), or an operator between operands. Returns the bytes consumed.
size_t Pass::OnOperator(unsigned char c, unsigned char next) {
  switch (c) {
    case '=':
      if (next == '=') return CodeToken(At(i_ + 2) == '=' ? 3 : 2);
      if (next == '>') return CodeToken(2);
      break;
    case '-':
      if (next == '>' || next == '=') return CodeToken(2);
      if (next == '-') {
        size_t j = i_;
        while (j < n_ && p_[j] == '-') ++j;
        return j - i_;
      }
      break;
    case '+':
      if (next == '+' || next == '=') return CodeToken(2);
      break;
    case '<':
    case '>':
      if (next == '=') {
        MathOp(2);
        return 2;
      }
      if (c == '<' && next == '/') return CodeToken(2);
      break;
    case '*':
      if (next == '*') return 2;  // markdown bold
      break;
    case '/':
      if (next == '>') return CodeToken(2);
      if (next == '/') return 2;  // a URL or a comment
      break;
    case '^':
      break;
    default:
      return 1;
  }
  MathOp(1);
  return 1;
}

}  // namespace

int64_t TextScanner::Scan(std::string_view text, TextStats* stats) const {
  return Pass(&table_, text, stats).Run();
}

int64_t TextScanner::CountTokens(std::string_view text) {
  TextStats unused;
  return Pass(nullptr, text, &unused).Run();
}

}  // namespace signalbox::classify
