// Routing quality of a score: how much of the gap between a weak and a strong model a
// router recovers when it sends the highest-scored prompts to the strong model.
//
// The same measure as RouteLLM's paper and /work/shared/tools/routing-eval: route the
// top k prompts by score to the strong model, for every k, and read the quality curve.
// Ties in the score are broken by a fixed hash of the prompt's id (TieKeyOf), so a
// constant score behaves like a random router (APGR about 0.5). Pure functions.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace signalbox::classify {

// One labelled prompt: the measured quality of each model on it (1/0 correct, or a
// judge's score) and its tie-break key.
struct Outcome {
  double weak = 0;
  double strong = 0;
  uint32_t tie = 0;
};

struct RoutingQuality {
  double apgr = 0;      // area between the curve and the weak model over the weak..strong gap
  double cpt50 = 0;     // share of strong calls to recover 50% of the gap
  double cpt80 = 0;     // ... 80% of the gap
  double strong95 = 0;  // share of strong calls to reach 95% of the strong model's quality
};

// routing-eval's tie-break: the first 32 bits of sha1(id), id as its JSON text for a
// number and its characters for a string.
uint32_t TieKeyOf(std::string_view id);

// REQUIRES: scores.size() == outcomes.size(). An empty set, or one where the strong and
// weak models are equally good on average (no gap), gives apgr 0.5 and shares of 0.
RoutingQuality EvaluateRouting(const std::vector<Outcome>& outcomes,
                               const std::vector<double>& scores);

}  // namespace signalbox::classify
