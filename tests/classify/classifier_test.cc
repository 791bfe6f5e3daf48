// Behaviour of the classifier that users and the router rely on: each signal fires on
// what it names and stays quiet otherwise, tiers follow the score, the config's weights
// and keywords take effect, and the output is deterministic.
#include "classify/classifier.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "classify/classify_test_util.h"

namespace signalbox::classify {
namespace {

using testing::ClassifyPrompt;
using testing::DefaultClassifier;
using testing::InputBuilder;
using testing::SignalOf;

TEST_CASE("KnownSignals lists each signal once, in the order decisions use", "[classify]") {
  const auto& known = KnownSignals();
  std::set<std::string_view> names;
  for (const SignalInfo& s : known) {
    CHECK(names.insert(s.name).second);
    CHECK(!s.meaning.empty());
    CHECK(s.default_weight >= 0);  // the config accepts 0..10; direction is lowers_score
    CHECK(s.default_weight <= 10);
  }
  // The names the product contract's example config uses.
  for (std::string_view n : {"length", "code", "math", "reasoning"}) CHECK(names.count(n) == 1);
  for (const SignalInfo& s : known) CHECK(s.lowers_score == (s.name == "simple"));

  const Classification c = ClassifyPrompt("hello there");
  REQUIRE(c.signals.size() == known.size());
  for (size_t i = 0; i < known.size(); ++i) {
    CHECK(c.signals[i].name == known[i].name);
    CHECK(c.signals[i].weight == known[i].default_weight);
  }
}

struct SignalCase {
  std::string prompt;
  std::string signal;
  double min;  // value >= min
  double max;  // value <= max
};

TEST_CASE("Each text signal fires on what it names and not on plain prose", "[classify]") {
  const std::vector<SignalCase> cases = {
      // code: fences, syntax, stack traces, file names, vocabulary
      {"```python\nprint('hi')\n```", "code", 0.8, 1},
      {"Traceback (most recent call last):\n  File \"app.py\", line 3\nKeyError: 'x'", "code", 0.8,
       1},
      {"if (count == 0 && ptr != nullptr) { return; }", "code", 0.6, 1},
      {"Why does my_function crash when I open config.yaml?", "code", 0.5, 1},
      {"How do I undo the last commit in git?", "code", 0.3, 1},
      {"My dog loves long walks in the park on sunny days.", "code", 0, 0},
      {"The class went on a trip to the museum.", "code", 0, 0},
      // math: operators between operands, symbols, vocabulary, quantity relations
      {"Solve x^2 + 3x - 4 = 0 for x.", "math", 0.6, 1},
      {"Show that ∀x ∈ ℝ, x² ≥ 0.", "math", 0.6, 1},
      {"Compute \\frac{a}{b} + \\sqrt{c}", "math", 0.5, 1},
      {"Is (P ⊃ Q) ≡ (~Q ⊃ ~P) a tautology?", "math", 0.6, 1},
      {"Anna has twice as many apples as Tom, and half as many as Lea.", "math", 0.3, 1},
      {"She left at 3-day notice; the well-known and/or popular km/h sign.", "math", 0, 0},
      {"The meeting is on Tuesday in the blue room.", "math", 0, 0},
      // reasoning: explicit asks, connectives, comparisons
      {"Prove that the square root of 2 is irrational.", "reasoning", 0.7, 1},
      {"Compare Postgres and MySQL and explain the trade-offs.", "reasoning", 0.7, 1},
      {"Explain why the sky is blue.", "reasoning", 0.4, 1},
      {"If prices rise, demand falls because buyers substitute, unless...", "reasoning", 0.3, 1},
      {"List three fruits.", "reasoning", 0, 0},
      // multi_step: sequence markers and lists
      {"First boil water, then add pasta, after that drain it, and finally add sauce.",
       "multi_step", 0.5, 1},
      {"Do these:\n1. parse the file\n2. validate rows\n3. write a report\n4. email it",
       "multi_step", 0.4, 1},
      {"Boil water.", "multi_step", 0, 0},
      // constraints
      {"Answer in JSON with exactly 3 keys, no more than 50 words, as a table.", "constraints", 0.7,
       1},
      {"Tell me about whales.", "constraints", 0, 0},
      // questions beyond the first
      {"What is X? Why is Y? How does Z work?", "questions", 0.6, 1},
      {"What is X?", "questions", 0, 0},
      // long output
      {"Write a detailed, comprehensive essay on the history of Rome.", "long_output", 0.6, 1},
      {"Name a planet.", "long_output", 0, 0},
  };
  for (const auto& c : cases) {
    INFO(c.signal << " <- " << c.prompt);
    const double v = SignalOf(ClassifyPrompt(c.prompt), c.signal).value;
    CHECK(v >= c.min);
    CHECK(v <= c.max);
  }
}

TEST_CASE("simple marks greetings, short lookups and translations, not technical asks",
          "[classify]") {
  const std::vector<SignalCase> cases = {
      {"hi", "simple", 1, 1},
      {"Thanks, that worked!", "simple", 0.9, 1},
      {"ok sounds good", "simple", 0.9, 1},
      {"What is the capital of Australia?", "simple", 0.8, 1},
      {"Translate 'good morning' into Spanish", "simple", 0.8, 1},
      {"Who wrote Pride and Prejudice?", "simple", 0.8, 1},
      {"What is the derivative of x^3 * sin(x)?", "simple", 0, 0.2},
      {"What does this regex do: ^[a-z]+_[0-9]{2}$", "simple", 0, 0.2},
      {"Hi! I need help designing a sharded Postgres setup for a multi-tenant SaaS with "
       "strict isolation, point-in-time recovery, and zero-downtime schema migrations across "
       "hundreds of tenants, please.",
       "simple", 0, 0},
  };
  for (const auto& c : cases) {
    INFO(c.prompt);
    const double v = SignalOf(ClassifyPrompt(c.prompt), c.signal).value;
    CHECK(v >= c.min);
    CHECK(v <= c.max);
  }
  // simple lowers the score: its contribution is negative.
  const Signal s = SignalOf(ClassifyPrompt("hi"), "simple");
  CHECK(s.contribution < 0);
  CHECK(s.contribution == Approx(-s.value * s.weight));
}

TEST_CASE("Request-shape signals come from the request, not the text", "[classify]") {
  const auto& c = *DefaultClassifier();
  {
    InputBuilder b;
    b.User("Hello").User("More").User("And more").User("Still more").User("Last one");
    CHECK(SignalOf(c.Classify(b.input()), "depth").value > 0.7);
  }
  CHECK(SignalOf(ClassifyPrompt("Hello"), "depth").value == 0);
  {
    // Tool definitions alone only nudge (an agent sends its toolbox with every ask) ...
    InputBuilder b;
    b.User("Look up the weather").Tools(3);
    CHECK(SignalOf(c.Classify(b.input()), "tools").value == Approx(0.15));
  }
  {
    InputBuilder b;
    // ... tool results in the conversation mean a task under way.
    b.User("go").Message(Role::kAssistant, "calling").Message(Role::kTool, "result: 42");
    CHECK(SignalOf(c.Classify(b.input()), "tools").value >= 0.6);
  }
  CHECK(SignalOf(ClassifyPrompt("Look up the weather"), "tools").value == 0);
  {
    InputBuilder b;
    b.User("What is in this picture?").Images();
    CHECK(SignalOf(c.Classify(b.input()), "images").value == 1);
  }
  {
    InputBuilder b;
    b.User("Extract the names").Structured();
    CHECK(SignalOf(c.Classify(b.input()), "structured_output").value == 1);
  }
  {
    InputBuilder b;
    b.User("Tell me about Rome").MaxTokens(8000);
    CHECK(SignalOf(c.Classify(b.input()), "long_output").value == 1);
  }
  {
    InputBuilder b;
    b.User("Tell me about Rome").MaxTokens(100);
    CHECK(SignalOf(c.Classify(b.input()), "long_output").value == 0);
  }
}

TEST_CASE("length grows with the prompt and saturates", "[classify]") {
  CHECK(SignalOf(ClassifyPrompt(""), "length").value == 0);
  double prev = 0;
  for (int words : {1, 10, 100, 1000, 4000}) {
    std::string p;
    for (int i = 0; i < words; ++i) p += "word ";
    const double v = SignalOf(ClassifyPrompt(p), "length").value;
    CHECK(v > prev);
    CHECK(v <= 1);
    prev = v;
  }
  std::string huge(200000, 'a');
  for (size_t i = 0; i < huge.size(); i += 5) huge[i] = ' ';
  CHECK(SignalOf(ClassifyPrompt(huge), "length").value == 1);
}

TEST_CASE("Default tiers put everyday prompts where an operator expects them", "[classify]") {
  struct TierCase {
    std::string prompt;
    std::string tier;
  };
  const std::vector<TierCase> cases = {
      {"hi", "simple"},
      {"Thanks!", "simple"},
      {"What is the capital of France?", "simple"},
      {"Translate 'see you tomorrow' into German", "simple"},
      {"How do I reverse a list in Python?", "medium"},
      {"Write a SQL query that returns the top 5 customers by total order value from tables "
       "customers(id, name) and orders(id, customer_id, amount).",
       "medium"},
      {"Design a rate limiter for a distributed API gateway that handles 1M requests per "
       "second across three regions. Discuss the trade-offs between token bucket and sliding "
       "window log, how you would keep counters consistent across regions, what happens "
       "during a network partition, and how you would test it.",
       "complex"},
      {"I get this error:\n```python\ndf = pd.read_csv(path)\nprint(df.loc[\"EU\"])\n```\n"
       "Traceback (most recent call last):\n  File \"main.py\", line 2, in <module>\n"
       "KeyError: 'EU'\nWhy, and how do I fix it?",
       "complex"},
      {"Find all functions f from the reals to the reals such that f(x + y) + f(x - y) = "
       "2f(x)cos(y) for all real x and y. Justify every step.",
       "complex"},
  };
  for (const auto& c : cases) {
    INFO(c.prompt);
    const Classification r = ClassifyPrompt(c.prompt);
    CHECK(r.tier == c.tier);
  }
}

TEST_CASE("The tier is the highest one whose lower bound is <= score", "[classify]") {
  ClassifierConfig cfg;
  cfg.tiers = {{"a", 0.0}, {"b", 0.2}, {"c", 0.4}, {"d", 0.6}, {"e", 0.8}};
  const auto c = Classifier::Create(cfg);
  REQUIRE(c->tiers().size() == 5);
  for (std::string p : {"hi", "Explain why the sky is blue.",
                        "Prove that there are infinitely many primes of the form 4k+3.",
                        "```cpp\nint main() { return 0; }\n```\nWhy does this segfault?"}) {
    const Classification r = c->Classify(InputBuilder().User(p).input());
    INFO(p << " score " << r.score);
    CHECK(r.score >= 0);
    CHECK(r.score <= 1);
    const int want = r.score >= 0.8   ? 4
                     : r.score >= 0.6 ? 3
                     : r.score >= 0.4 ? 2
                     : r.score >= 0.2 ? 1
                                      : 0;
    CHECK(r.tier_index == want);
    CHECK(r.tier == cfg.tiers[want].first);
  }
  // One tier: everything lands in it.
  cfg.tiers = {{"only", 0.0}};
  CHECK(Classifier::Create(cfg)->Classify(InputBuilder().User("Prove it").input()).tier == "only");
}

TEST_CASE("The score is the squashed sum of the contributions", "[classify]") {
  const Classification a = ClassifyPrompt("Explain why the sky is blue.");
  const Classification b = ClassifyPrompt("Explain why the sky is blue, step by step.");
  double sa = 0, sb = 0;
  for (const Signal& s : a.signals) {
    CHECK(s.contribution == Approx(s.value * s.weight * (s.name == "simple" ? -1 : 1)));
    sa += s.contribution;
  }
  for (const Signal& s : b.signals) sb += s.contribution;
  CHECK(sb > sa);
  CHECK(b.score > a.score);
}

TEST_CASE("Config weights override the defaults, 0 turns a signal off", "[classify]") {
  const std::string prompt = "```go\nfunc main() { fmt.Println(\"hi\") }\n```\nWhat is wrong?";
  ClassifierConfig cfg;
  cfg.signal_weights["code"] = 0;
  const Classification off = ClassifyPrompt(prompt, *Classifier::Create(cfg));
  const Classification on = ClassifyPrompt(prompt);
  CHECK(SignalOf(off, "code").value == SignalOf(on, "code").value);
  CHECK(SignalOf(off, "code").weight == 0);
  CHECK(SignalOf(off, "code").contribution == 0);
  CHECK(off.score < on.score);

  cfg.signal_weights["code"] = 2.0;
  const Classification heavy = ClassifyPrompt(prompt, *Classifier::Create(cfg));
  CHECK(SignalOf(heavy, "code").weight == 2.0);
  CHECK(heavy.score > on.score);
}

TEST_CASE("Config keywords extend a signal's word list, as words and phrases", "[classify]") {
  ClassifierConfig cfg;
  cfg.keywords["reasoning"] = {"flibbertigibbet", "quantum widget"};
  cfg.keywords["code"] = {"terraform"};
  cfg.keywords["simple"] = {"weather in"};
  cfg.keywords["length"] = {"ignored"};  // not a word-based signal: ignored
  const auto c = Classifier::Create(cfg);
  auto value = [&](const std::string& p, const char* sig) {
    return SignalOf(ClassifyPrompt(p, *c), sig).value;
  };
  CHECK(value("Please flibbertigibbet this.", "reasoning") > 0.4);
  CHECK(value("Tell me about the QUANTUM-Widget.", "reasoning") > 0.4);
  CHECK(value("A quantum physics widget.", "reasoning") == 0);  // not the phrase
  CHECK(value("The quantum. Widget.", "reasoning") == 0);       // punctuation breaks it
  CHECK(value("Fix my Terraform module.", "code") > 0.4);
  CHECK(value("Weather in Oslo?", "simple") > 0.8);
  CHECK(SignalOf(ClassifyPrompt("Please flibbertigibbet this."), "reasoning").value == 0);
  CHECK(SignalOf(ClassifyPrompt("ignored ignored", *c), "length").value ==
        SignalOf(ClassifyPrompt("ignored ignored"), "length").value);
}

TEST_CASE("Classify is deterministic and safe to call from many threads", "[classify]") {
  const std::vector<std::string> prompts = {
      "hi", "Prove that 2 is prime.", "```js\nlet x = 1;\n```\nwhy?",
      "First do A, then B. How many apples are left if she eats half?"};
  const auto c1 = Classifier::Create(ClassifierConfig{});
  const auto c2 = Classifier::Create(ClassifierConfig{});
  std::vector<double> want;
  for (const auto& p : prompts) {
    const Classification a = ClassifyPrompt(p, *c1);
    const Classification b = ClassifyPrompt(p, *c2);
    CHECK(a.score == b.score);  // bitwise: no clock, no randomness, no hidden state
    CHECK(a.tier == b.tier);
    CHECK(a.input_tokens == b.input_tokens);
    want.push_back(a.score);
  }
  std::vector<std::vector<double>> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 200; ++rep) {
        for (const auto& p : prompts) got[t].push_back(ClassifyPrompt(p, *c1).score);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& g : got) {
    REQUIRE(g.size() == prompts.size() * 200);
    for (size_t i = 0; i < g.size(); ++i) CHECK(g[i] == want[i % prompts.size()]);
  }
}

TEST_CASE("EstimateTokens follows BPE-like rules and is linear", "[classify]") {
  CHECK(EstimateTokens("") == 0);
  CHECK(EstimateTokens("hello") == 1);
  CHECK(EstimateTokens("hello world") == 2);
  CHECK(EstimateTokens("Hello, world!") == 4);
  CHECK(EstimateTokens("1234567") == 3);
  CHECK(EstimateTokens("\xE4\xBD\xA0\xE5\xA5\xBD\xE4\xB8\x96\xE7\x95\x8C") == 4);  // 你好世界
  CHECK(EstimateTokens("internationalization") == 5);
  std::string para = "The quick brown fox jumps over the lazy dog. ";
  const int64_t one = EstimateTokens(para);
  CHECK(one == 10);
  std::string many;
  for (int i = 0; i < 1000; ++i) many += para;
  CHECK(EstimateTokens(many) == 1000 * one);

  // input_tokens is the sum of EstimateTokens over the parts, harness blocks included.
  const std::vector<std::string> parts = {
      "You are helpful.", "<system-reminder>today is Monday</system-reminder>", "hi",
      "see <system-reminder>x</system-reminder>... and <environment_details>cwd: /tmp"};
  InputBuilder b;
  b.Message(Role::kSystem, parts[0]).MultiPart(Role::kUser, {parts[1], parts[2], parts[3]});
  const Classification r = DefaultClassifier()->Classify(b.input());
  int64_t want = 0;
  for (const auto& p : parts) want += EstimateTokens(p);
  CHECK(r.input_tokens == want);
}

TEST_CASE("Any bytes classify to values in [0,1], deterministically", "[classify]") {
  // Fragments that stress the scanner's edges: truncated and invalid UTF-8, unclosed
  // harness blocks, operators at the ends, long runs.
  const std::vector<std::string> pieces = {"a",
                                           "Z",
                                           "_",
                                           "9",
                                           " ",
                                           "  ",
                                           "\n",
                                           "\r\n",
                                           "\t",
                                           ".",
                                           "?",
                                           "!",
                                           "-",
                                           "'",
                                           "=",
                                           "==",
                                           "<",
                                           ">",
                                           "/",
                                           "*",
                                           "^",
                                           "~",
                                           "\\",
                                           "(",
                                           ")",
                                           "`",
                                           "```",
                                           "#include",
                                           "$ ",
                                           "1.",
                                           "- ",
                                           "\xE2\x80\x99",
                                           "\xE2\x88\x91",
                                           "\xCE\xB1",
                                           "\xE4\xBD\xA0",
                                           "\xF0\x9F\x98\x80",
                                           "\xEF\xBC\x9F",
                                           "\xC3",
                                           "\xE2\x88",
                                           "\xFF",
                                           "\x80",
                                           std::string(1, '\0'),
                                           "<system-reminder>",
                                           "</system-reminder>",
                                           "<environment_details>",
                                           "trade",
                                           "off",
                                           "step by step",
                                           "prove",
                                           "hi",
                                           "what",
                                           "json",
                                           "x.py",
                                           "fooBar",
                                           "snake_case"};
  std::mt19937 rng(12345);
  const auto& c = *DefaultClassifier();
  for (int i = 0; i < 3000; ++i) {
    std::string text;
    const int n = static_cast<int>(rng() % 40);
    for (int k = 0; k < n; ++k) text += pieces[rng() % pieces.size()];
    InputBuilder b;
    b.User(text);
    if (i % 3 == 0) b.Message(Role::kTool, text).User(text + text);
    const Classification r = c.Classify(b.input());
    INFO(i);
    REQUIRE(std::isfinite(r.score));
    CHECK(r.score >= 0);
    CHECK(r.score <= 1);
    CHECK(r.input_tokens >= 0);
    for (const Signal& s : r.signals) {
      CHECK(s.value >= 0);
      CHECK(s.value <= 1);
    }
    CHECK(c.Classify(b.input()).score == r.score);
    CHECK(EstimateTokens(text) >= 0);
  }
}

}  // namespace
}  // namespace signalbox::classify
