// Golden config tests: every file in tests/testdata/config/invalid/ must fail with the
// messages its "# expect: LINE:COL: message" lines give; the shipped example must pass.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/loader.h"

namespace fs = std::filesystem;
using signalbox::LoadConfigFile;

namespace {

std::vector<std::string> Expectations(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> out;
  std::string line;
  const std::string tag = "# expect: ";
  while (std::getline(in, line)) {
    if (line.rfind(tag, 0) == 0) out.push_back(line.substr(tag.size()));
  }
  return out;
}

}  // namespace

TEST_CASE("every golden invalid config fails with its expected line:col messages", "[config]") {
  fs::path dir = fs::path(SIGNALBOX_SOURCE_DIR) / "tests/testdata/config/invalid";
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    ++files;
    auto expects = Expectations(entry.path());
    INFO("file: " << entry.path().filename().string());
    REQUIRE(!expects.empty());
    auto res = LoadConfigFile(entry.path().string());
    CHECK(!res.config.has_value());
    for (const auto& want : expects) {
      // Each message is "FILE:LINE:COL: path: message"; compare after "FILE:".
      bool found = false;
      for (const auto& got : res.errors) {
        std::string prefix = entry.path().string() + ":";
        if (got.rfind(prefix, 0) == 0 && got.substr(prefix.size()).rfind(want, 0) == 0)
          found = true;
      }
      INFO("want: " << want);
      for (const auto& got : res.errors) INFO("got: " << got);
      CHECK(found);
    }
  }
  CHECK(files >= 10);
}

TEST_CASE("the shipped example config is valid without any environment variable", "[config]") {
  auto empty_env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  auto res =
      LoadConfigFile(std::string(SIGNALBOX_SOURCE_DIR) + "/config/signalbox.yaml", empty_env);
  for (const auto& e : res.errors) INFO(e);
  REQUIRE(res.config.has_value());
  CHECK(res.errors.empty());
  CHECK(res.warnings.empty());
  CHECK(res.config->backends.size() == 2);
  CHECK(res.config->backends[0].port == 8001);
  CHECK(res.config->backends[1].port == 8002);
}
