#include <catch2/catch.hpp>

#include "runtime/reloader.h"

using namespace signalbox;

TEST_CASE("a reload keeps restart-only server keys at their running values and says so",
          "[runtime][reload][security]") {
  ServerConfig running;
  running.listen = "0.0.0.0:8080";
  running.admin_token = "t";
  ServerConfig next = running;
  next.listen = "0.0.0.0:9090";
  next.max_connections = 10;
  next.max_streams = 7;  // not restart-only: takes effect
  std::vector<std::string> warnings;
  CHECK(ApplyReloadPolicy(running, &next, &warnings).empty());
  CHECK(next.listen == "0.0.0.0:8080");
  CHECK(next.max_connections == running.max_connections);
  CHECK(next.max_streams == 7);
  REQUIRE(warnings.size() == 2);
  CHECK(warnings[0].find("server.listen changed from '0.0.0.0:8080' to '0.0.0.0:9090'") !=
        std::string::npos);
  CHECK(warnings[0].find("after a restart") != std::string::npos);
}

TEST_CASE("a reload that would remove the admin token is refused, changing it is fine",
          "[runtime][reload][security]") {
  ServerConfig running;
  running.admin_token = "secret";
  ServerConfig emptied = running;
  emptied.admin_token = "";
  std::vector<std::string> warnings;
  auto errors = ApplyReloadPolicy(running, &emptied, &warnings);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("server.admin_token") == 0);
  ServerConfig changed = running;
  changed.admin_token = "other";
  CHECK(ApplyReloadPolicy(running, &changed, &warnings).empty());
  ServerConfig open_before;  // started without a token: a reload may add one or stay open
  ServerConfig still_open;
  CHECK(ApplyReloadPolicy(open_before, &still_open, &warnings).empty());
}
