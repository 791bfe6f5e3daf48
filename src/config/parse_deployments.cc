// Where a backend sends its requests: one `url`, or several `deployments` (copies of the
// same model) with the `balance` policy and optional `affinity` that pick one per attempt.
#include <fmt/format.h>

#include <cctype>
#include <set>

#include "config/parse_sections.h"
#include "config/units.h"

namespace signalbox::config_internal {
namespace {

using R = YamlReader;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Parses scheme://host[:port][/path], an upstream base URL, into `d`.
bool ParseUrl(const std::string& url, DeploymentConfig* d, std::string* why) {
  size_t sep = url.find("://");
  if (sep == std::string::npos) {
    *why = "must start with http:// or https://";
    return false;
  }
  d->scheme = Lower(url.substr(0, sep));
  if (d->scheme != "http" && d->scheme != "https") {
    *why = "scheme must be http or https";
    return false;
  }
  std::string rest = url.substr(sep + 3);
  if (rest.find_first_of("?#@ ") != std::string::npos) {
    *why = "must not contain a query, a fragment, credentials or spaces";
    return false;
  }
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  d->base_path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!d->base_path.empty() && d->base_path.back() == '/') d->base_path.pop_back();
  int default_port = d->scheme == "https" ? 443 : 80;
  if (hostport.find(':') == std::string::npos ||
      (hostport.front() == '[' && hostport.back() == ']')) {
    d->host = hostport;
    if (!d->host.empty() && d->host.front() == '[') d->host = d->host.substr(1, d->host.size() - 2);
    d->port = default_port;
  } else if (!SplitHostPort(hostport, &d->host, &d->port)) {
    *why = "has an invalid host or port";
    return false;
  }
  if (d->host.empty()) {
    *why = "has no host";
    return false;
  }
  return true;
}

bool IsLabel(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return false;
  }
  return true;
}

void ParseDeployment(R& r, const YAML::Node& n, const std::string& p, SourcePos parent,
                     DeploymentConfig* d) {
  if (!r.ExpectMap(n, p, parent, {"name", "url", "api_key", "weight", "headers"})) return;
  SourcePos pos = R::PosOf(n, parent);
  d->pos = pos;
  if (r.GetString(n, "name", p, &d->name) && !IsLabel(d->name)) {
    r.Error(R::PosOf(n["name"], pos), R::Join(p, "name"),
            "must be 1-64 letters, digits, '-', '_' or '.'");
  }
  if (!r.GetString(n, "url", p, &d->url) || d->url.empty()) {
    r.Error(pos, R::Join(p, "url"), "is required");
  } else if (std::string why; !ParseUrl(d->url, d, &why)) {
    r.Error(R::PosOf(n["url"], pos), R::Join(p, "url"), why);
  }
  r.GetString(n, "api_key", p, &d->api_key);
  int64_t w = 0;
  if (r.GetInt(n, "weight", p, &w, 1, 10'000)) d->weight = static_cast<int>(w);
  if (n["headers"].IsDefined() && !n["headers"].IsNull()) {
    ParseUpstreamHeaders(r, n["headers"], R::Join(p, "headers"), pos, &d->headers);
  }
}

void ParseDeploymentList(R& r, const YAML::Node& n, const std::string& p, SourcePos parent,
                         BackendConfig* b) {
  if (!r.ExpectSeq(n, p, parent)) return;
  if (n.size() == 0) r.Error(R::PosOf(n, parent), p, "list at least one deployment");
  std::set<std::string> labels;
  std::map<std::string, int> url_repeats;
  for (size_t i = 0; i < n.size(); ++i) {
    DeploymentConfig d;
    std::string dp = R::Index(p, i);
    ParseDeployment(r, n[i], dp, R::PosOf(n, parent), &d);
    if (d.name.empty()) d.name = std::to_string(i);
    if (!labels.insert(d.name).second) {
      r.Error(R::PosOf(n[i]["name"], d.pos), R::Join(dp, "name"),
              fmt::format("duplicate deployment name '{}' (unnamed deployments are named by "
                          "their index)",
                          d.name));
    }
    int k = url_repeats[d.url]++;
    d.key = k == 0 ? d.url : fmt::format("{}#{}", d.url, k);
    b->deployments.push_back(std::move(d));
  }
}

}  // namespace

void ParseEndpoints(R& r, const YAML::Node& n, const std::string& p, SourcePos pos,
                    BackendConfig* b) {
  bool has_url = r.GetString(n, "url", p, &b->url);
  bool has_list = n["deployments"].IsDefined() && !n["deployments"].IsNull();
  if (has_url && has_list) {
    r.Error(R::PosOf(n["deployments"], pos), R::Join(p, "deployments"),
            "set either url or deployments, not both");
  } else if (has_list) {
    b->listed_deployments = true;
    ParseDeploymentList(r, n["deployments"], R::Join(p, "deployments"), pos, b);
  } else if (b->url.empty()) {
    r.Error(pos, R::Join(p, "url"), "is required (or deployments)");
  } else {
    DeploymentConfig d;
    d.name = "0";
    d.url = b->url;
    d.key = b->url;
    d.pos = R::PosOf(n["url"], pos);
    if (std::string why; !ParseUrl(b->url, &d, &why)) {
      r.Error(d.pos, R::Join(p, "url"), why);
    }
    b->deployments.push_back(std::move(d));
  }
  if (!b->deployments.empty()) {
    const DeploymentConfig& first = b->deployments.front();
    b->scheme = first.scheme;
    b->host = first.host;
    b->port = first.port;
    b->base_path = first.base_path;
  }
  std::string balance;
  if (r.GetString(n, "balance", p, &balance)) {
    if (balance == "least_inflight")
      b->balance = BalancePolicy::kLeastInflight;
    else if (balance == "weighted_random")
      b->balance = BalancePolicy::kWeightedRandom;
    else if (balance == "round_robin")
      b->balance = BalancePolicy::kRoundRobin;
    else
      r.Error(R::PosOf(n["balance"], pos), R::Join(p, "balance"),
              "must be least_inflight, weighted_random or round_robin");
  }
  std::string affinity;
  if (r.GetString(n, "affinity", p, &affinity)) {
    constexpr std::string_view kPrefix = "header:";
    std::string_view name = std::string_view(affinity).substr(
        affinity.rfind(kPrefix, 0) == 0 ? kPrefix.size() : affinity.size());
    if (name.empty() || !IsHeaderToken(name)) {
      r.Error(R::PosOf(n["affinity"], pos), R::Join(p, "affinity"),
              "must be header:NAME, e.g. header:x-session-id");
    } else {
      b->affinity_header = Lower(name);
    }
  }
}

}  // namespace signalbox::config_internal

namespace signalbox {

std::string_view BalancePolicyName(BalancePolicy p) {
  switch (p) {
    case BalancePolicy::kLeastInflight:
      return "least_inflight";
    case BalancePolicy::kWeightedRandom:
      return "weighted_random";
    case BalancePolicy::kRoundRobin:
      return "round_robin";
  }
  return "least_inflight";
}

}  // namespace signalbox
