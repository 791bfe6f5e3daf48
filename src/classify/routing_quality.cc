#include "classify/routing_quality.h"

#include <openssl/sha.h>

#include <algorithm>
#include <numeric>

namespace signalbox::classify {

uint32_t TieKeyOf(std::string_view id) {
  unsigned char d[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(id.data()), id.size(), d);
  return (uint32_t{d[0]} << 24) | (uint32_t{d[1]} << 16) | (uint32_t{d[2]} << 8) | d[3];
}

// pts[k] is the mean quality when the k highest-scored prompts go to the strong model.
// The APGR is the curve's area above the weak model over the gap's (trapezoids, as
// routing-eval); a CPT is the first k whose quality reaches a target.
RoutingQuality EvaluateRouting(const std::vector<Outcome>& outcomes,
                               const std::vector<double>& scores) {
  const size_t n = outcomes.size();
  RoutingQuality m;
  m.apgr = 0.5;
  if (n == 0) return m;
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (scores[a] != scores[b]) return scores[a] > scores[b];
    if (outcomes[a].tie != outcomes[b].tie) return outcomes[a].tie > outcomes[b].tie;
    return a < b;
  });
  double q = 0, strong = 0;
  for (const Outcome& o : outcomes) {
    q += o.weak;
    strong += o.strong;
  }
  std::vector<double> pts{q / n};
  pts.reserve(n + 1);
  for (size_t i : order) {
    q += outcomes[i].strong - outcomes[i].weak;
    pts.push_back(q / n);
  }
  const double weak = pts[0];
  strong /= n;
  const double gap = strong - weak;
  if (gap == 0) return m;
  double area = 0;
  for (size_t i = 0; i < n; ++i) area += (pts[i] + pts[i + 1]) / 2;
  area /= n;
  auto cpt = [&](double target) {
    for (size_t k = 0; k < pts.size(); ++k) {
      if (pts[k] >= target - 1e-12) return static_cast<double>(k) / n;
    }
    return 1.0;
  };
  m.apgr = (area - weak) / gap;
  m.cpt50 = cpt(weak + 0.5 * gap);
  m.cpt80 = cpt(weak + 0.8 * gap);
  m.strong95 = cpt(0.95 * strong);
  return m;
}

}  // namespace signalbox::classify
