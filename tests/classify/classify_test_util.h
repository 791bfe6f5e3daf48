// Helpers shared by the classifier tests: build inputs and read signals by name.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "classify/classifier.h"
#include "config/config.h"

namespace signalbox::classify::testing {

// Owns the texts a ClassifyInput points into. One per test; not thread-safe.
class InputBuilder {
 public:
  InputBuilder& Message(Role role, std::string text) {
    texts_.push_back(std::move(text));
    in_.parts.push_back({role, in_.num_messages, texts_.back()});
    ++in_.num_messages;
    return *this;
  }
  // A message made of several text parts.
  InputBuilder& MultiPart(Role role, std::vector<std::string> parts) {
    for (auto& t : parts) {
      texts_.push_back(std::move(t));
      in_.parts.push_back({role, in_.num_messages, texts_.back()});
    }
    ++in_.num_messages;
    return *this;
  }
  InputBuilder& User(std::string text) { return Message(Role::kUser, std::move(text)); }
  InputBuilder& Tools(int n) {
    in_.num_tools = n;
    return *this;
  }
  InputBuilder& Images() {
    in_.has_images = true;
    return *this;
  }
  InputBuilder& Structured() {
    in_.structured_output = true;
    return *this;
  }
  InputBuilder& MaxTokens(int64_t n) {
    in_.max_tokens = n;
    return *this;
  }
  const ClassifyInput& input() const { return in_; }

 private:
  std::deque<std::string> texts_;  // stable addresses for the views in in_
  ClassifyInput in_;
};

inline std::shared_ptr<const Classifier> DefaultClassifier() {
  static const std::shared_ptr<const Classifier> c = Classifier::Create(ClassifierConfig{});
  return c;
}

inline Classification ClassifyPrompt(std::string prompt,
                                     const Classifier& c = *DefaultClassifier()) {
  InputBuilder b;
  b.User(std::move(prompt));
  return c.Classify(b.input());
}

inline const Signal& SignalOf(const Classification& c, std::string_view name) {
  for (const Signal& s : c.signals) {
    if (s.name == name) return s;
  }
  static const Signal kMissing{"<missing>", -1, 0, 0};
  return kMissing;
}

}  // namespace signalbox::classify::testing
