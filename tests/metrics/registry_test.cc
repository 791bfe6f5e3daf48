#include "metrics/registry.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "metrics/exposition_parse.h"

namespace signalbox::metrics {
namespace {

using testing::ParseExposition;

TEST_CASE("Registry renders families sorted, with HELP, TYPE and escaped labels", "[metrics]") {
  Registry r;
  auto requests =
      r.AddCounter("app_requests_total", "Requests.\nSecond line \\ here.", {"backend", "status"});
  REQUIRE(requests.ok());
  auto inflight = r.AddGauge("app_inflight_requests", "In flight.", {});
  REQUIRE(inflight.ok());
  (*requests)->WithLabels({"b\"q\\x\ny", "200"}).Add(2.5);
  (*requests)->WithLabels({"a", "500"}).Inc();
  (*inflight)->WithLabels({}).Set(3);

  CHECK(r.Scrape() ==
        "# HELP app_inflight_requests In flight.\n"
        "# TYPE app_inflight_requests gauge\n"
        "app_inflight_requests 3\n"
        "# HELP app_requests_total Requests.\\nSecond line \\\\ here.\n"
        "# TYPE app_requests_total counter\n"
        "app_requests_total{backend=\"a\",status=\"500\"} 1\n"
        "app_requests_total{backend=\"b\\\"q\\\\x\\ny\",status=\"200\"} 2.5\n");
}

TEST_CASE("Histogram buckets are cumulative and +Inf equals _count", "[metrics]") {
  Registry r;
  auto h = r.AddHistogram("app_latency_seconds", "Latency.", {"backend"}, {0.25, 1, 10});
  REQUIRE(h.ok());
  Histogram& small = (*h)->WithLabels({"small"});
  // A value equal to a bound counts in that bound's bucket (le = less or equal).
  for (double v : {0.125, 0.25, 0.5, 1.0, 2.0, 100.0}) small.Observe(v);
  small.Observe(NAN);  // ignored

  CHECK(r.Scrape() ==
        "# HELP app_latency_seconds Latency.\n"
        "# TYPE app_latency_seconds histogram\n"
        "app_latency_seconds_bucket{backend=\"small\",le=\"0.25\"} 2\n"
        "app_latency_seconds_bucket{backend=\"small\",le=\"1\"} 4\n"
        "app_latency_seconds_bucket{backend=\"small\",le=\"10\"} 5\n"
        "app_latency_seconds_bucket{backend=\"small\",le=\"+Inf\"} 6\n"
        "app_latency_seconds_sum{backend=\"small\"} 103.875\n"
        "app_latency_seconds_count{backend=\"small\"} 6\n");
}

TEST_CASE("Values are formatted so Prometheus parses them", "[metrics]") {
  Registry r;
  auto g = r.AddGauge("app_value", "A value.", {"case"});
  REQUIRE(g.ok());
  (*g)->WithLabels({"inf"}).Set(INFINITY);
  (*g)->WithLabels({"ninf"}).Set(-INFINITY);
  (*g)->WithLabels({"nan"}).Set(NAN);
  (*g)->WithLabels({"small"}).Set(1e-6);
  (*g)->WithLabels({"big"}).Set(12345678901234.0);
  (*g)->WithLabels({"frac"}).Set(0.1);
  std::string text = r.Scrape();
  CHECK(text.find("app_value{case=\"inf\"} +Inf\n") != std::string::npos);
  CHECK(text.find("app_value{case=\"ninf\"} -Inf\n") != std::string::npos);
  CHECK(text.find("app_value{case=\"nan\"} NaN\n") != std::string::npos);
  CHECK(text.find("app_value{case=\"small\"} 1e-06\n") != std::string::npos);
  CHECK(text.find("app_value{case=\"big\"} 12345678901234\n") != std::string::npos);
  CHECK(text.find("app_value{case=\"frac\"} 0.1\n") != std::string::npos);
}

TEST_CASE("Pre-created series export 0, families without series are left out", "[metrics]") {
  Registry r;
  auto c = r.AddCounter("app_errors_total", "Errors.", {"key"});
  auto unused = r.AddCounter("app_unused_total", "Never used.", {"key"});
  auto h = r.AddHistogram("app_op_seconds", "Op time.", {}, {1});
  REQUIRE((c.ok() && unused.ok() && h.ok()));
  (*c)->WithLabels({"team-a"});
  auto m = ParseExposition(r.Scrape());
  CHECK(m.at("app_errors_total{key=\"team-a\"}") == 0);
  // A family without labels exists from registration on.
  CHECK(m.at("app_op_seconds_count") == 0);
  CHECK(m.at("app_op_seconds_bucket{le=\"+Inf\"}") == 0);
  CHECK(r.Scrape().find("app_unused_total") == std::string::npos);
}

TEST_CASE("A kept series reference is the one a later lookup returns", "[metrics]") {
  Registry r;
  auto c = r.AddCounter("app_hits_total", "Hits.", {"a", "b"});
  REQUIRE(c.ok());
  Counter& kept = (*c)->WithLabels({"x", "y"});
  for (int i = 0; i < 100; ++i) (*c)->WithLabels({"x", std::to_string(i)});  // rebalances
  std::vector<std::string> owned = {"x", "y"};
  CHECK(&(*c)->WithLabels(owned) == &kept);
  kept.Inc();
  CHECK((*c)->WithLabels({"x", "y"}).Value() == 1);
  CHECK((*c)->size() == 101);
}

TEST_CASE("Counters ignore negative and NaN increments", "[metrics]") {
  Registry r;
  auto c = r.AddCounter("app_spend_total", "Spend.", {});
  REQUIRE(c.ok());
  Counter& s = (*c)->WithLabels({});
  s.Add(0.25);
  s.Add(-1);
  s.Add(NAN);
  CHECK(s.Value() == 0.25);
}

TEST_CASE("Wrong label counts and invalid UTF-8 still give a valid series", "[metrics]") {
  Registry r;
  auto c = r.AddCounter("app_calls_total", "Calls.", {"a", "b"});
  REQUIRE(c.ok());
  (*c)->WithLabels({"only"}).Inc();
  (*c)->WithLabels({"x", "y", "extra"}).Inc();
  (*c)->WithLabels({"bad\xFF", "z"}).Inc();
  (*c)->WithLabels({"bad\xFF", "z"}).Inc();  // the same (sanitized) series
  auto m = ParseExposition(r.Scrape());
  CHECK(m.at("app_calls_total{a=\"only\",b=\"\"}") == 1);
  CHECK(m.at("app_calls_total{a=\"x\",b=\"y\"}") == 1);
  CHECK(m.at("app_calls_total{a=\"bad\xEF\xBF\xBD\",b=\"z\"}") == 2);
  CHECK((*c)->size() == 3);
}

TEST_CASE("Registration rejects names promtool would flag", "[metrics]") {
  struct Case {
    const char* name;
    std::vector<std::string> labels;
    bool counter;
  };
  std::vector<Case> bad = {
      {"app_requests", {}, true},           // counter without _total
      {"app_up_total", {}, false},          // gauge with _total
      {"appRequests_total", {}, true},      // camel case
      {"app:requests_total", {}, true},     // colon
      {"9app_total", {}, true},             // leading digit
      {"app_x_count", {}, false},           // histogram suffix
      {"app_x_bucket", {}, false},          // histogram suffix
      {"app_y_total", {"le"}, true},        // reserved label
      {"app_y_total", {"quantile"}, true},  // reserved label
      {"app_y_total", {"__a"}, true},       // reserved prefix
      {"app_y_total", {"Backend"}, true},   // camel-case label
      {"app_y_total", {"a", "a"}, true},    // repeated label
      {"", {}, false},
  };
  for (const Case& c : bad) {
    Registry r;
    Status s = c.counter ? r.AddCounter(c.name, "Help.", c.labels).status()
                         : r.AddGauge(c.name, "Help.", c.labels).status();
    INFO(c.name);
    CHECK(s.code() == StatusCode::kInvalidArgument);
  }
  Registry r;
  CHECK_FALSE(r.AddGauge("app_g", "", {}).ok());  // no help text
  CHECK_FALSE(r.AddHistogram("app_h_seconds", "H.", {}, {1, 1}).ok());
  CHECK_FALSE(r.AddHistogram("app_h_seconds", "H.", {}, {2, 1}).ok());
  CHECK_FALSE(r.AddHistogram("app_h_seconds", "H.", {}, {NAN}).ok());
  CHECK(r.AddHistogram("app_h_seconds", "H.", {}, {1, INFINITY}).ok());  // +Inf implicit
  CHECK(r.AddHistogram("app_none_seconds", "No bounds: only +Inf.", {}, {}).ok());
}

TEST_CASE("Registering the same family twice returns it, a different one fails", "[metrics]") {
  Registry r;
  auto a = r.AddCounter("app_x_total", "X.", {"k"});
  auto b = r.AddCounter("app_x_total", "X.", {"k"});
  REQUIRE((a.ok() && b.ok()));
  CHECK(*a == *b);
  CHECK_FALSE(r.AddCounter("app_x_total", "Other help.", {"k"}).ok());
  CHECK_FALSE(r.AddCounter("app_x_total", "X.", {"k", "j"}).ok());
  auto h = r.AddHistogram("app_h_seconds", "H.", {}, {1, 2});
  REQUIRE(h.ok());
  CHECK(r.AddHistogram("app_h_seconds", "H.", {}, {1, 2}).ok());
  CHECK_FALSE(r.AddHistogram("app_h_seconds", "H.", {}, {1, 3}).ok());
  CHECK_FALSE(r.AddGauge("app_h_seconds", "H.", {}).ok());
  REQUIRE(r.AddGaugeCallback("app_cb", "Cb.", {}, [](std::vector<GaugeSample>&) {}).ok());
  CHECK_FALSE(r.AddGauge("app_cb", "Cb.", {}).ok());
  CHECK_FALSE(r.AddGaugeCallback("app_cb", "Cb.", {}, [](std::vector<GaugeSample>&) {}).ok());
}

TEST_CASE("Gauge callbacks are evaluated at scrape time, sorted and de-duplicated", "[metrics]") {
  Registry r;
  std::atomic<int> up_large{1};
  bool throw_now = false;
  REQUIRE(
      r.AddGaugeCallback("app_backend_up", "Up.", {"backend"}, [&](std::vector<GaugeSample>& out) {
         if (throw_now) throw std::runtime_error("state gone");
         out.push_back({{"small"}, 1});
         out.push_back({{"large"}, double(up_large.load())});
         out.push_back({{"small"}, 7});  // duplicate: dropped
       }).ok());
  CHECK(r.Scrape() ==
        "# HELP app_backend_up Up.\n"
        "# TYPE app_backend_up gauge\n"
        "app_backend_up{backend=\"large\"} 1\n"
        "app_backend_up{backend=\"small\"} 1\n");
  up_large = 0;
  CHECK(ParseExposition(r.Scrape()).at("app_backend_up{backend=\"large\"}") == 0);
  throw_now = true;
  CHECK(r.Scrape().empty());  // the family is left out; the scrape still succeeds
}

TEST_CASE("Concurrent recording while scraping loses no increment", "[metrics]") {
  Registry r;
  auto c = r.AddCounter("app_ops_total", "Ops.", {"worker", "kind"});
  auto h = r.AddHistogram("app_op_seconds", "Op time.", {"worker"}, {0.5, 1.5});
  REQUIRE((c.ok() && h.ok()));
  constexpr int kThreads = 4;
  constexpr int kIters = 50000;
  Counter& shared = (*c)->WithLabels({"all", "shared"});
  std::atomic<int> writers_done{0};
  std::atomic<int> scrapes{0};
  std::atomic<int> inconsistent{0};

  std::thread scraper([&] {
    // At least a few scrapes, and keep going until every writer is done.
    while (writers_done.load() < kThreads || scrapes.load() < 3) {
      auto m = ParseExposition(r.Scrape());
      for (const auto& [series, value] : m) {
        if (series.rfind("app_op_seconds_count", 0) != 0) continue;
        std::string labels = series.substr(std::string("app_op_seconds_count").size());
        std::string inf =
            "app_op_seconds_bucket" + labels.substr(0, labels.size() - 1) + ",le=\"+Inf\"}";
        if (m.at(inf) != value) ++inconsistent;
      }
      ++scrapes;
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      std::string me = std::to_string(t);
      Histogram& mine = (*h)->WithLabels({me});
      for (int i = 0; i < kIters; ++i) {
        shared.Inc();
        mine.Observe(i % 2);                                      // 0 or 1
        (*c)->WithLabels({me, i % 3 == 0 ? "a" : "b"}).Add(0.5);  // lookup path
      }
      ++writers_done;
    });
  }
  for (auto& w : writers) w.join();
  scraper.join();

  CHECK(inconsistent.load() == 0);
  auto m = ParseExposition(r.Scrape());
  CHECK(m.at("app_ops_total{worker=\"all\",kind=\"shared\"}") == double(kThreads) * kIters);
  for (int t = 0; t < kThreads; ++t) {
    std::string me = std::to_string(t);
    INFO("worker " << me);
    CHECK(m.at("app_op_seconds_count{worker=\"" + me + "\"}") == kIters);
    CHECK(m.at("app_op_seconds_bucket{worker=\"" + me + "\",le=\"0.5\"}") == kIters / 2);
    CHECK(m.at("app_op_seconds_sum{worker=\"" + me + "\"}") == kIters / 2);
    double a = m.at("app_ops_total{worker=\"" + me + "\",kind=\"a\"}");
    double b = m.at("app_ops_total{worker=\"" + me + "\",kind=\"b\"}");
    CHECK(a == 0.5 * ((kIters + 2) / 3));
    CHECK(a + b == 0.5 * kIters);
  }
}

}  // namespace
}  // namespace signalbox::metrics
