// Loading a config to use it: the classifier checks its own vocabulary (signal names)
// and its problems read like the loader's.
#include "runtime/config_load.h"

#include <catch2/catch.hpp>

using namespace signalbox;

namespace {

std::string ConfigWith(const std::string& classifier) {
  return R"(server:
  listen: 127.0.0.1:0
backends:
  - name: small
    url: http://127.0.0.1:9/v1
    model: small-model
router:
  rules:
    - name: default
      route: [small]
classifier:
)" + classifier;
}

}  // namespace

TEST_CASE("a misspelt signal name is refused with its position and the name it resembles",
          "[runtime][config]") {
  LoadResult r = LoadCheckedConfigText(ConfigWith("  signals:\n    lenght: 0.5\n"), "x.yaml");
  CHECK_FALSE(r.config);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0] ==
        "x.yaml:13:5: classifier.signals.lenght: unknown signal (did you mean 'length'?)");
}

TEST_CASE("keywords for a signal without a word list are refused, naming those that have one",
          "[runtime][config]") {
  LoadResult r = LoadCheckedConfigText(
      ConfigWith("  keywords:\n    length: [huge]\n    nonsense: [x]\n"), "x.yaml");
  CHECK_FALSE(r.config);
  REQUIRE(r.errors.size() == 2);
  CHECK(r.errors[0].rfind("x.yaml:13:5: classifier.keywords.length: the signal 'length' has no "
                          "word list to extend (signals that take keywords: ",
                          0) == 0);
  CHECK(r.errors[1].rfind("x.yaml:14:5: classifier.keywords.nonsense: unknown signal", 0) == 0);
}

TEST_CASE("known signal names and keywords load", "[runtime][config]") {
  LoadResult r = LoadCheckedConfigText(
      ConfigWith("  signals:\n    length: 0.5\n  keywords:\n    code: [kubectl]\n"), "x.yaml");
  INFO((r.errors.empty() ? "" : r.errors[0]));
  REQUIRE(r.config);
  CHECK(r.config->classifier.signal_weights.at("length") == 0.5);
  CHECK(r.config->classifier.keywords.at("code") == std::vector<std::string>{"kubectl"});
}
