// deploy/grafana/signalbox.json: valid JSON, every panel titled and queried, and every
// metric (and label) its PromQL uses is one the gateway really exports — the list comes
// from a live metrics::Registry, so renaming a metric breaks this test, not a dashboard.
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "metrics/gateway_metrics.h"
#include "metrics/registry.h"

using nlohmann::json;

namespace {

const std::string kDashboard = std::string(SIGNALBOX_SOURCE_DIR) + "/deploy/grafana/signalbox.json";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json LoadDashboard() {
  json d = json::parse(ReadFile(kDashboard), nullptr, false);
  REQUIRE(!d.is_discarded());
  REQUIRE(d.is_object());
  return d;
}

// Every panel, rows' nested panels included.
std::vector<json> AllPanels(const json& d) {
  std::vector<json> out;
  std::function<void(const json&)> walk = [&](const json& panels) {
    for (const auto& p : panels) {
      out.push_back(p);
      if (p.contains("panels")) walk(p["panels"]);
    }
  };
  walk(d.at("panels"));
  return out;
}

struct ExportedFamily {
  std::string type;              // counter | gauge | histogram
  std::set<std::string> labels;  // from the samples, `le` excluded
};

// The families the gateway exports: GatewayMetrics::Register() and RegisterBackendUp() on
// a fresh registry, one series created in each family (a family without series is not
// exposed), then read back from Scrape()'s `# TYPE` and sample lines.
std::map<std::string, ExportedFamily> ExportedFamilies() {
  using namespace signalbox::metrics;
  static Registry registry;
  static std::map<std::string, ExportedFamily> families = [] {
    auto m = GatewayMetrics::Register(registry);
    REQUIRE(m.ok());
    REQUIRE(RegisterBackendUp(registry, [](std::vector<GaugeSample>& out) {
              out.push_back({{"b"}, 1});
            }).ok());
    auto touch = [](auto* family) {
      REQUIRE(family != nullptr);
      family->WithLabels(std::vector<std::string>(family->label_names().size(), "x"));
    };
    touch(m->requests);
    touch(m->request_duration);
    touch(m->time_to_first_token);
    touch(m->upstream_tokens);
    touch(m->cost_usd);
    touch(m->fallbacks);
    touch(m->budget_rejections);
    touch(m->inflight_requests);
    touch(m->config_reloads);
    touch(m->classifier_seconds);
    std::map<std::string, ExportedFamily> out;
    std::istringstream in(registry.Scrape());
    const std::regex type_re(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+))");
    const std::regex label_re(R"(([a-zA-Z_][a-zA-Z0-9_]*)=")");
    for (std::string line; std::getline(in, line);) {
      std::smatch mt;
      if (std::regex_match(line, mt, type_re)) {
        out[mt[1]].type = mt[2];
        continue;
      }
      if (line.empty() || line[0] == '#') continue;
      std::string name = line.substr(0, line.find_first_of("{ "));
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        std::string base =
            name.size() > strlen(suffix) ? name.substr(0, name.size() - strlen(suffix)) : "";
        if (name.ends_with(suffix) && out.count(base) && out[base].type == "histogram") name = base;
      }
      REQUIRE(out.count(name) == 1);
      size_t brace = line.find('{');
      if (brace == std::string::npos) continue;
      std::string labels = line.substr(brace, line.find('}') - brace);
      for (std::sregex_iterator it(labels.begin(), labels.end(), label_re), end; it != end; ++it) {
        if ((*it)[1] != "le") out[name].labels.insert((*it)[1]);
      }
    }
    return out;
  }();
  return families;
}

// Labels Prometheus adds to every scraped series.
const std::set<std::string> kTargetLabels = {"instance", "job"};

struct MetricRef {
  std::string as_written;  // e.g. signalbox_classifier_seconds_bucket
  std::string family;      // e.g. signalbox_classifier_seconds ("" when unknown)
  std::string suffix;      // _bucket | _sum | _count | ""
  std::string matchers;    // the text inside {...} right after the name, if any
};

std::vector<MetricRef> MetricsIn(const std::string& expr,
                                 const std::map<std::string, ExportedFamily>& fams) {
  std::vector<MetricRef> out;
  const std::regex name_re(R"(signalbox_[a-z_]+)");
  for (std::sregex_iterator it(expr.begin(), expr.end(), name_re), end; it != end; ++it) {
    MetricRef r;
    r.as_written = it->str();
    if (fams.count(r.as_written)) {
      r.family = r.as_written;
    } else {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        if (!r.as_written.ends_with(suffix)) continue;
        std::string base = r.as_written.substr(0, r.as_written.size() - strlen(suffix));
        auto f = fams.find(base);
        if (f != fams.end() && f->second.type == "histogram") {
          r.family = base;
          r.suffix = suffix;
        }
      }
    }
    size_t after = static_cast<size_t>(it->position() + it->length());
    if (after < expr.size() && expr[after] == '{')
      r.matchers = expr.substr(after + 1, expr.find('}', after) - after - 1);
    out.push_back(r);
  }
  return out;
}

// Label names in `by (...)` / `without (...)` / `ignoring (...)` / `on (...)` clauses.
std::set<std::string> GroupingLabels(const std::string& expr) {
  std::set<std::string> out;
  const std::regex clause_re(R"(\b(by|without|ignoring|on)\s*\(([^)]*)\))");
  const std::regex word_re(R"([a-zA-Z_][a-zA-Z0-9_]*)");
  for (std::sregex_iterator it(expr.begin(), expr.end(), clause_re), end; it != end; ++it) {
    std::string list = (*it)[2];
    for (std::sregex_iterator w(list.begin(), list.end(), word_re), wend; w != wend; ++w)
      out.insert(w->str());
  }
  return out;
}

// Every PromQL expression of the dashboard: panel targets and query variables.
std::vector<std::pair<std::string, std::string>> Expressions(const json& d) {
  std::vector<std::pair<std::string, std::string>> out;  // (where, expr)
  for (const auto& p : AllPanels(d)) {
    if (!p.contains("targets")) continue;
    for (const auto& t : p["targets"])
      out.emplace_back("panel \"" + p.value("title", "") + "\"", t.value("expr", ""));
  }
  for (const auto& v : d["templating"]["list"]) {
    if (v.value("type", "") != "query") continue;
    std::string q =
        v["query"].is_object() ? v["query"].value("query", "") : v["query"].get<std::string>();
    out.emplace_back("variable $" + v.value("name", ""), q);
  }
  return out;
}

}  // namespace

TEST_CASE("the Grafana dashboard is valid JSON and every panel has a title and queries",
          "[deploy]") {
  json d = LoadDashboard();
  CHECK(d.value("schemaVersion", 0) >= 36);
  CHECK(!d.value("uid", "").empty());
  CHECK(!d.value("title", "").empty());
  // A Prometheus datasource variable (works when provisioned from a file and when
  // imported), which every panel and target uses.
  bool ds_var = false;
  for (const auto& v : d["templating"]["list"]) {
    if (v.value("type", "") == "datasource" && v.value("query", "") == "prometheus" &&
        v.value("name", "") == "DS_PROMETHEUS") {
      ds_var = true;
    }
  }
  CHECK(ds_var);
  std::set<int> ids;
  size_t queried = 0;
  for (const auto& p : AllPanels(d)) {
    INFO(p.dump().substr(0, 300));
    CHECK(!p.value("title", "").empty());
    REQUIRE(p.contains("id"));
    CHECK(ids.insert(p["id"].get<int>()).second);  // unique ids
    REQUIRE(p.contains("gridPos"));
    CHECK(p["gridPos"]["x"].get<int>() + p["gridPos"]["w"].get<int>() <= 24);
    if (p.value("type", "") == "row") continue;  // a row groups panels; it has no query
    CHECK(p["datasource"]["uid"] == "${DS_PROMETHEUS}");
    REQUIRE(p.contains("targets"));
    REQUIRE(p["targets"].is_array());
    CHECK(!p["targets"].empty());
    std::set<std::string> refs;
    for (const auto& t : p["targets"]) {
      CHECK(!t.value("expr", "").empty());
      CHECK(refs.insert(t.value("refId", "")).second);
      CHECK(t["datasource"]["uid"] == "${DS_PROMETHEUS}");
    }
    ++queried;
  }
  CHECK(queried >= 10);
}

TEST_CASE("every metric and label the dashboard queries is one the gateway exports", "[deploy]") {
  json d = LoadDashboard();
  const auto fams = ExportedFamilies();
  // The registry really holds the SPEC's families (guards this test's own premise).
  for (const char* spec :
       {"signalbox_requests_total", "signalbox_request_duration_seconds",
        "signalbox_time_to_first_token_seconds", "signalbox_upstream_tokens_total",
        "signalbox_cost_usd_total", "signalbox_fallbacks_total",
        "signalbox_budget_rejections_total", "signalbox_inflight_requests", "signalbox_backend_up",
        "signalbox_config_reloads_total", "signalbox_classifier_seconds"}) {
    CHECK(fams.count(spec) == 1);
  }
  std::set<std::string> used;
  const std::regex matcher_re(R"(([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=))");
  for (const auto& [where, expr] : Expressions(d)) {
    INFO(where << ": " << expr);
    auto refs = MetricsIn(expr, fams);
    CHECK(!refs.empty());
    std::set<std::string> labels_here = kTargetLabels;
    bool any_bucket = false;
    for (const auto& r : refs) {
      INFO("metric " << r.as_written);
      REQUIRE(!r.family.empty());  // not exported: renamed, misspelled, or a bare histogram name
      used.insert(r.family);
      const auto& f = fams.at(r.family);
      CHECK((f.type != "histogram" ||
             !r.suffix.empty()));  // a histogram has only _bucket/_sum/_count series
      if (r.suffix == "_bucket") any_bucket = true;
      labels_here.insert(f.labels.begin(), f.labels.end());
      std::set<std::string> own = f.labels;
      own.insert(kTargetLabels.begin(), kTargetLabels.end());
      if (r.suffix == "_bucket") own.insert("le");
      for (std::sregex_iterator m(r.matchers.begin(), r.matchers.end(), matcher_re), end; m != end;
           ++m) {
        INFO("matcher label " << (*m)[1]);
        CHECK(own.count((*m)[1]) == 1);
      }
      // rate()/increase() only make sense on counters and histogram series.
      if (f.type == "gauge") {
        CHECK(expr.find("rate(" + r.as_written) == std::string::npos);
        CHECK(expr.find("increase(" + r.as_written) == std::string::npos);
      }
    }
    if (any_bucket) labels_here.insert("le");
    for (const auto& l : GroupingLabels(expr)) {
      INFO("grouping label " << l);
      CHECK(labels_here.count(l) == 1);
    }
    if (expr.find("histogram_quantile") != std::string::npos) {
      CHECK(any_bucket);
      CHECK(GroupingLabels(expr).count("le") == 1);
    }
  }
  // The dashboard covers every family the gateway exports.
  for (const auto& [name, f] : fams) {
    INFO("not on the dashboard: " << name);
    CHECK(used.count(name) == 1);
  }
}

TEST_CASE("every dashboard query is valid PromQL (promtool check rules)", "[deploy]") {
  const char* promtool = "/usr/bin/promtool";
  if (access(promtool, X_OK) != 0) {
    WARN("SKIPPED: " << promtool << " is not installed (Debian package prometheus)");
    return;
  }
  json d = LoadDashboard();
  // Grafana's variables, replaced by values Prometheus would see.
  const std::vector<std::pair<std::string, std::string>> vars = {{"$__rate_interval", "1m"},
                                                                 {"$__interval", "15s"},
                                                                 {"$__range", "1h"},
                                                                 {"$backend", ".*"},
                                                                 {"$key", ".*"}};
  std::string rules = "groups:\n  - name: dashboard\n    rules:\n";
  int n = 0;
  for (const auto& [where, expr] : Expressions(d)) {
    if (where.rfind("variable", 0) == 0) continue;  // label_values() is Grafana's, not PromQL
    std::string e = expr;
    for (const auto& [from, to] : vars) {
      for (size_t p; (p = e.find(from)) != std::string::npos;) e.replace(p, from.size(), to);
    }
    CHECK(e.find('$') == std::string::npos);  // an unknown Grafana variable
    rules += "      - record: dashboard:expr" + std::to_string(n++) +
             "\n        expr: " + json(e).dump() + "\n";
  }
  char path[] = "/tmp/signalbox_dashboard_rules_XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, rules.data(), rules.size()) == static_cast<ssize_t>(rules.size()));
  close(fd);
  std::string cmd = std::string(promtool) + " check rules " + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string output;
  char buf[4096];
  for (size_t k; (k = fread(buf, 1, sizeof buf, p)) > 0;) output.append(buf, k);
  int status = pclose(p);
  unlink(path);
  INFO(rules);
  INFO(output);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
