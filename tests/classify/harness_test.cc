// The classifier scores the human ask, not what coding agents and IDEs wrap around it,
// and never scores a longer or harder version of an input lower.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "classify/classifier.h"
#include "classify/classify_test_util.h"

namespace signalbox::classify {
namespace {

using testing::ClassifyPrompt;
using testing::DefaultClassifier;
using testing::InputBuilder;
using testing::SignalOf;

const std::string kHardNoise =
    "Prove, analyze and compare the trade-offs step by step. ```cpp\nint x = a * b + c;\n```\n"
    "Traceback (most recent call last): KeyError. First, then, finally. Solve x^2 = 4. "
    "Answer in JSON, exactly 3 bullets, no more than 50 words. Why? How? What?";

// Every signal value except those named.
void CheckSameSignals(const Classification& a, const Classification& b) {
  REQUIRE(a.signals.size() == b.signals.size());
  for (size_t i = 0; i < a.signals.size(); ++i) {
    INFO(a.signals[i].name);
    CHECK(a.signals[i].value == Approx(b.signals[i].value));
  }
  CHECK(a.score == Approx(b.score));
}

TEST_CASE("System-reminder blocks do not count towards the signals", "[classify]") {
  const auto& c = *DefaultClassifier();
  const std::string ask = "rename the variable cnt to count";
  const Classification plain = c.Classify(InputBuilder().User(ask).input());

  // As separate text parts of the same message, before and after the ask.
  InputBuilder parts;
  parts.MultiPart(Role::kUser, {"<system-reminder>" + kHardNoise + "</system-reminder>", ask,
                                "<system-reminder>" + kHardNoise + "</system-reminder>"});
  const Classification a = c.Classify(parts.input());
  CheckSameSignals(a, plain);
  CHECK(a.input_tokens > plain.input_tokens);  // still paid for

  // Inline in the same text, and an unclosed block that runs to the end.
  const Classification b =
      ClassifyPrompt("<system-reminder>" + kHardNoise + "</system-reminder>\n" + ask +
                     "\n<environment_details>" + kHardNoise);
  CHECK(b.score == Approx(plain.score).margin(0.02));
  CHECK(SignalOf(b, "code").value == Approx(SignalOf(plain, "code").value).margin(0.05));
  CHECK(SignalOf(b, "reasoning").value == 0);
  CHECK(SignalOf(b, "math").value == 0);
}

TEST_CASE("The ask is the last user turn with text of its own", "[classify]") {
  const auto& c = *DefaultClassifier();
  // A later user message that holds only a reminder does not replace the ask.
  InputBuilder b;
  b.User("hi there")
      .Message(Role::kAssistant, "Hello! How can I help?")
      .User(kHardNoise)
      .Message(Role::kAssistant, "Let me look.")
      .MultiPart(Role::kUser, {"<system-reminder>context refreshed</system-reminder>"});
  const Classification r = c.Classify(b.input());
  CHECK(SignalOf(r, "reasoning").value > 0.8);  // the hard turn is the ask

  // With no user turn at all, the last message with text is the ask.
  InputBuilder sys;
  sys.Message(Role::kSystem, "Prove that there are infinitely many primes.");
  CHECK(SignalOf(c.Classify(sys.input()), "reasoning").value > 0.6);
}

TEST_CASE("Tool output and long system prompts weigh little", "[classify]") {
  const auto& c = *DefaultClassifier();
  std::string tool_dump;
  for (int i = 0; i < 200; ++i) {
    tool_dump += "int Parse(const char* p) { if (p == nullptr) return -1; x = a * b + c; }\n";
  }
  InputBuilder agent;
  agent.User("thanks, that's all")
      .Message(Role::kAssistant, "Running the tests.")
      .Message(Role::kTool, tool_dump);
  // Reordered so the ask is last: tool output came earlier in the turn.
  InputBuilder agent2;
  agent2.Message(Role::kAssistant, "Running the tests.")
      .Message(Role::kTool, tool_dump)
      .User("thanks, that's all");
  for (const InputBuilder* b : {&agent, &agent2}) {
    const Classification r = c.Classify(b->input());
    CHECK(SignalOf(r, "code").value <= 0.3);
    CHECK(SignalOf(r, "math").value <= 0.3);
    CHECK(r.tier != "complex");
  }

  std::string system;
  for (int i = 0; i < 50; ++i) {
    system +=
        "Always explain your reasoning step by step, compare the trade-offs, and "
        "prove every claim. Answer in JSON with exactly three bullets. ";
  }
  InputBuilder sys;
  sys.Message(Role::kSystem, system).User("What is the capital of Peru?");
  const Classification r = c.Classify(sys.input());
  CHECK(SignalOf(r, "reasoning").value <= 0.3);
  CHECK(SignalOf(r, "constraints").value <= 0.3);
  CHECK(r.tier == "simple");
}

TEST_CASE("Earlier turns count less than the ask", "[classify]") {
  const auto& c = *DefaultClassifier();
  const std::string hard = "Prove that every bounded monotone sequence converges, step by step.";
  InputBuilder now;
  now.User("ok").Message(Role::kAssistant, "Sure.").User(hard);
  InputBuilder before;
  before.User(hard).Message(Role::kAssistant, "Sure.").User("ok thanks, what next?");
  CHECK(c.Classify(now.input()).score > c.Classify(before.input()).score);
}

TEST_CASE("A longer or harder input never scores lower", "[classify]") {
  const auto& c = *DefaultClassifier();
  const std::vector<std::string> bases = {
      "hi",
      "What is the capital of France?",
      "How do I reverse a list in Python?",
      "Anna has 3 apples and buys twice as many. How many does she have?",
      "Explain why the sky is blue.",
      "```js\nconst x = f(1);\n```",
  };
  const std::vector<std::string> additions = {
      "Please answer.",
      "Prove it.",
      "Then compare the trade-offs, step by step.",
      "Solve x^2 + 2x = 8.",
      "```python\nfor i in range(10): print(i)\n```",
      "Answer in JSON with exactly 3 keys.",
      "Why? And how?",
      "Write a detailed essay.",
      "First do this, then that, finally the rest.",
      "Thanks!",
  };
  for (const auto& base : bases) {
    const double s0 = ClassifyPrompt(base).score;
    for (const auto& add : additions) {
      INFO(base << " + " << add);
      CHECK(ClassifyPrompt(base + " " + add).score >= s0);
      CHECK(ClassifyPrompt(base + "\n" + add + " " + add).score >= s0);
    }
    // Request features and earlier history only add.
    InputBuilder b;
    b.User(base);
    InputBuilder more;
    more.User(base).Tools(2).Images().Structured().MaxTokens(8000);
    CHECK(c.Classify(more.input()).score >= c.Classify(b.input()).score);
    InputBuilder history;
    history.User("Earlier question about something else.")
        .Message(Role::kAssistant, "An earlier answer.")
        .User(base);
    CHECK(c.Classify(history.input()).score >= c.Classify(b.input()).score);
  }
}

}  // namespace
}  // namespace signalbox::classify
