// The shared routing benchmarks (../shared/data/routing-bench: GSM8K and MMLU prompts
// with the outcome of a weak and a strong model) as rows for the fitter and the
// routing-quality measure. Used by the tests that skip when ../shared is absent.
#pragma once

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "classify/classifier.h"
#include "classify/routing_quality.h"
#include "classify/weight_fit.h"

namespace signalbox::classify::testing {

inline const std::string kBenchDir = SIGNALBOX_SOURCE_DIR "/../shared/data/routing-bench/";

inline bool BenchAvailable() {
  return std::filesystem::exists(kBenchDir + "gsm8k.jsonl") &&
         std::filesystem::exists(kBenchDir + "mmlu-dev.jsonl");
}

struct BenchRow {
  LabelledPrompt row;  // signal values of `classifier`, outcome, group = MMLU subject or set
  std::string id;
  double chars = 0;  // prompt length in code points: routing-eval's length baseline
  int fold = 0;      // grouped 5-fold split: MMLU by subject, GSM8K by id
};

inline constexpr int kBenchFolds = 5;

// Reads `file` of the bench dir and classifies every prompt with `c`. Folds: an MMLU
// subject's index in alphabetical order mod 5 (whole subjects held out together); a
// GSM8K prompt's numeric id mod 5.
inline std::vector<BenchRow> LoadBench(const std::string& file, const Classifier& c) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(kBenchDir + file);
  std::string line;
  std::map<std::string, int> subjects;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    lines.push_back(nlohmann::json::parse(line));
    if (lines.back().contains("domain")) subjects[lines.back()["domain"]] = 0;
  }
  int k = 0;
  for (auto& [name, index] : subjects) index = k++;
  std::vector<BenchRow> rows;
  for (const auto& j : lines) {
    BenchRow r;
    r.id = j.at("id").get<std::string>();
    const std::string prompt = j.at("prompt").get<std::string>();
    ClassifyInput ci;
    ci.parts.push_back({Role::kUser, 0, prompt});
    ci.num_messages = 1;
    const Classification cls = c.Classify(ci);
    for (int s = 0; s < kNumSignals; ++s) r.row.values[s] = cls.signals[s].value;
    r.row.outcome = {j.at("weak").get<double>(), j.at("strong").get<double>(), TieKeyOf(r.id)};
    if (j.contains("domain")) {
      r.row.group = j["domain"].get<std::string>();
      r.fold = subjects[r.row.group] % kBenchFolds;
    } else {
      r.row.group = file;
      r.fold = static_cast<int>(std::stol(r.id.substr(r.id.rfind('-') + 1)) % kBenchFolds);
    }
    for (unsigned char ch : prompt) r.chars += (ch & 0xC0) != 0x80;
    rows.push_back(std::move(r));
  }
  return rows;
}

// The rows of one fold (fold >= 0), of every other fold (fold >= 0, others), or all.
inline std::vector<LabelledPrompt> Rows(const std::vector<BenchRow>& rows, int fold = -1,
                                        bool others = false) {
  std::vector<LabelledPrompt> out;
  for (const BenchRow& r : rows) {
    if (fold < 0 || (r.fold == fold) != others) out.push_back(r.row);
  }
  return out;
}

// APGR of prompt length in characters on the rows of `fold` (-1: all).
inline RoutingQuality CharsQuality(const std::vector<BenchRow>& rows, int fold = -1) {
  std::vector<Outcome> o;
  std::vector<double> s;
  for (const BenchRow& r : rows) {
    if (fold >= 0 && r.fold != fold) continue;
    o.push_back(r.row.outcome);
    s.push_back(r.chars);
  }
  return EvaluateRouting(o, s);
}

inline SignalVector DefaultWeights() {
  SignalVector w{};
  for (int s = 0; s < kNumSignals; ++s) w[s] = KnownSignals()[s].default_weight;
  return w;
}

inline SignalVector LengthOnly() {
  SignalVector w{};
  w[kSigLength] = 1;
  return w;
}

}  // namespace signalbox::classify::testing
