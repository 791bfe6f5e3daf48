// `signalbox fit`: learn the classifier's signal weights from labelled traffic.
//
// Each line is a prompt as `score` reads it plus "strong" and "weak", the two models'
// measured quality on it. The prompt goes through the configured classifier (the same
// Classify() live routing calls), its signal values and outcome become one row, a seeded
// shuffle holds a share of the rows out, classify::FitSignalWeights learns weights on the
// rest, and the held-out rows compare the current config, prompt length alone and the
// fitted weights. The output is the classifier.signals block to paste, with the report
// as YAML comments; progress goes to stderr.
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "app/offline.h"
#include "app/verbs.h"
#include "classify/weight_fit.h"

namespace signalbox::app {
namespace {

using classify::FitResult;
using classify::KnownSignals;
using classify::LabelledPrompt;
using classify::SignalVector;

constexpr size_t kMinPrompts = 50;
constexpr size_t kMaxErrorsShown = 20;
constexpr size_t kProgressEvery = 20000;

struct FitFlags {
  double holdout = 0.2;
  uint64_t seed = 1;
};

// Parses --holdout and --seed; prints the problem and returns false on a usage error.
bool ParseFitFlags(const Args& args, FitFlags* f) {
  if (!args.Get("input")) {
    std::fprintf(stderr, "signalbox fit: --input FILE is required\n");
    return false;
  }
  if (auto h = args.Get("holdout")) {
    char* end = nullptr;
    f->holdout = std::strtod(h->c_str(), &end);
    if (end == h->c_str() || *end != '\0' || !(f->holdout >= 0 && f->holdout <= 0.9)) {
      std::fprintf(stderr, "signalbox fit: --holdout must be a number in [0, 0.9]\n");
      return false;
    }
  }
  if (auto s = args.Get("seed")) {
    char* end = nullptr;
    f->seed = std::strtoull(s->c_str(), &end, 10);
    if (end == s->c_str() || *end != '\0' || (*s)[0] == '-') {
      std::fprintf(stderr, "signalbox fit: --seed must be a non-negative integer\n");
      return false;
    }
  }
  return true;
}

// A line's "strong" or "weak": a finite number, else an error naming the field.
std::optional<std::string> ReadQuality(const nlohmann::json& j, const char* field, double* out) {
  auto it = j.find(field);
  if (it == j.end()) {
    return fmt::format("\"{}\" is missing (the {} model's quality on this prompt)", field, field);
  }
  if (!it->is_number() || !std::isfinite(it->get<double>())) {
    return fmt::format("\"{}\" must be a number, e.g. 1/0 correct or a judge score", field);
  }
  *out = it->get<double>();
  return std::nullopt;
}

struct Labelled {
  std::vector<LabelledPrompt> rows;
  SignalVector current{};  // the config's weights, as the classifier reports them
  size_t errors = 0;
};

// One input line -> one row, or an error text.
std::optional<std::string> ReadRow(const std::string& line, const OfflineRouting& routing,
                                   Labelled* out) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded()) return "not valid JSON";
  OfflineRequest q;
  if (auto err = RequestFromLine(j, routing.cfg, &q)) return err;
  LabelledPrompt row;
  if (auto err = ReadQuality(j, "strong", &row.outcome.strong)) return err;
  if (auto err = ReadQuality(j, "weak", &row.outcome.weak)) return err;
  if (auto g = j.find("group"); g != j.end()) {
    if (!g->is_string()) return "\"group\" must be a string";
    row.group = g->get<std::string>();
  }
  const std::string id = q.id.is_string() ? q.id.get<std::string>() : q.id.dump();
  row.outcome.tie = classify::TieKeyOf(id);
  const classify::Classification c = routing.router->classifier().Classify(q.req.classify);
  for (size_t s = 0; s < c.signals.size(); ++s) {
    row.values[s] = c.signals[s].value;
    out->current[s] = c.signals[s].weight;
  }
  out->rows.push_back(std::move(row));
  return std::nullopt;
}

void PrintWeights(const FitResult& fit) {
  std::printf("classifier:\n  signals:\n");
  for (size_t s = 0; s < KnownSignals().size(); ++s) {
    const std::string name(KnownSignals()[s].name);
    std::string line = fmt::format("    {}: {}", name, fit.weights[s]);
    if (!fit.learnt[s]) line = fmt::format("{:<32}# does not vary in the input: kept", line);
    std::printf("%s\n", line.c_str());
  }
}

void PrintReport(const std::vector<LabelledPrompt>& held, const SignalVector& current,
                 const FitResult& fit, const std::string& config_path) {
  SignalVector length{};
  length[classify::kSigLength] = 1;
  std::printf("#\n# held out: %zu prompts the fit never saw\n", held.size());
  std::printf("#   %-40s %6s  %s\n", "scorer", "APGR", "strong share at 95% quality");
  auto line = [&](const std::string& label, const SignalVector& w) {
    const classify::RoutingQuality q = classify::EvaluateWeights(held, w);
    std::printf("#   %-40s %6.3f  %.3f\n", label.c_str(), q.apgr, q.strong95);
  };
  line("current config (" + config_path + ")", current);
  line("prompt length alone", length);
  line("fitted weights", fit.weights);
  std::printf("#   (APGR: 0.5 = random, 1 = perfect; lower shares are cheaper)\n");
}

}  // namespace

int RunFit(const Args& args) {
  FitFlags flags;
  if (!ParseFitFlags(args, &flags)) return 2;
  auto routing = LoadOffline(args);
  if (!routing) return 1;
  Labelled data;
  const bool ok = ForEachInputLine(args, "fit", [&](size_t n, const std::string& line) {
    if (auto err = ReadRow(line, *routing, &data)) {
      if (++data.errors <= kMaxErrorsShown) std::fprintf(stderr, "line %zu: %s\n", n, err->c_str());
    }
    if (n % kProgressEvery == 0) std::fprintf(stderr, "fit: %zu lines read\n", n);
  });
  if (!ok) return 1;
  if (data.errors > 0) {
    std::fprintf(stderr, "signalbox fit: %zu lines could not be read%s; nothing fitted\n",
                 data.errors, data.errors > kMaxErrorsShown ? " (first ones shown)" : "");
    return 1;
  }
  const size_t n = data.rows.size();
  const size_t held_n = static_cast<size_t>(std::floor(flags.holdout * n));
  if (n - held_n < kMinPrompts) {
    std::fprintf(stderr, "signalbox fit: %zu labelled prompts to fit on; at least %zu needed\n",
                 n - held_n, kMinPrompts);
    return 1;
  }
  // A seeded shuffle; the first held_n rows of it are held out.
  std::vector<LabelledPrompt> train, held;
  const std::vector<size_t> perm = classify::SeededPermutation(n, flags.seed);
  for (size_t i = 0; i < n; ++i) (i < held_n ? held : train).push_back(data.rows[perm[i]]);
  std::fprintf(stderr, "fit: %zu prompts read; fitting on %zu, holding out %zu\n", n, train.size(),
               held.size());
  classify::FitOptions options;
  options.current = data.current;
  options.seed = flags.seed;
  const FitResult fit = classify::FitSignalWeights(train, options);
  std::printf("# signalbox fit: %zu labelled prompts; fitted on %zu, held out %zu (seed %llu)\n", n,
              train.size(), held.size(), static_cast<unsigned long long>(flags.seed));
  if (!fit.informative) {
    std::printf("# no signal predicts where the strong model gains: current weights kept\n");
  } else {
    std::printf("# ridge strength %g chosen by %d-fold cross validation (held-out APGR %.3f)\n",
                fit.ridge, options.folds, fit.cv_apgr);
  }
  std::printf(
      "# paste under the config's classifier section, then set the tier bound with\n"
      "#   signalbox calibrate --input FILE --strong-share X\n");
  PrintWeights(fit);
  if (!held.empty()) PrintReport(held, data.current, fit, args.ConfigPath());
  return 0;
}

}  // namespace signalbox::app
