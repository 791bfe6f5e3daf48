// The error table in code (SpecOf) against docs/resilience.md's "Error codes" table, row
// by row, and against the outcome table: a code that lets a request fall back is exactly
// one an outcome that moves to the next candidate carries.
#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "openai/error.h"
#include "proxy/attempt_outcome.h"
#include "testing/doc_table.h"

using namespace signalbox;

namespace {

std::vector<ErrorCode> AllCodes() {
  std::vector<ErrorCode> out;
  for (int i = 0; i <= static_cast<int>(kLastErrorCode); ++i)
    out.push_back(static_cast<ErrorCode>(i));
  return out;
}

bool YesNo(const std::string& cell) {
  REQUIRE((cell == "yes" || cell == "no"));
  return cell == "yes";
}

}  // namespace

TEST_CASE("every row of docs/resilience.md's error-code table is what SpecOf() says",
          "[proxy][errors]") {
  auto rows = testing::DocTableRows("docs/resilience.md", "| code | HTTP |");
  REQUIRE(rows.size() == AllCodes().size());
  // A wire code may appear twice (request_too_large is a 413 and a 429), so rows are
  // matched by code and status together.
  std::map<std::pair<std::string, int>, ErrorCode> by_key;
  for (ErrorCode c : AllCodes()) {
    const ErrorSpec& s = SpecOf(c);
    INFO("code " << s.code);
    CHECK(by_key.emplace(std::make_pair(std::string(s.code), s.http), c).second);
  }
  std::set<std::pair<std::string, int>> seen;
  for (const auto& cells : rows) {
    REQUIRE(cells.size() == 6);
    std::pair<std::string, int> key{testing::Unquote(cells[0]), std::stoi(cells[1])};
    INFO("row " << key.first << " " << key.second);
    REQUIRE(by_key.count(key) == 1);
    CHECK(seen.insert(key).second);
    const ErrorSpec& s = SpecOf(by_key[key]);
    CHECK(testing::Unquote(cells[2]) == s.type);
    CHECK(YesNo(cells[3]) == s.no_retry);
    CHECK(YesNo(cells[4]) == s.may_fall_back);
    CHECK(!cells[5].empty());
  }
}

TEST_CASE("an error made from a code carries the table's status, type and retry advice",
          "[proxy][errors]") {
  ApiError e = MakeError(ErrorCode::kBudgetExceeded, "over", "", 0);
  CHECK(e.status == 429);
  CHECK(e.type == "insufficient_quota");
  CHECK(e.code == "budget_exceeded");
  CHECK(e.no_retry);
  CHECK(e.message == "over");

  ApiError limit = MakeError(ErrorCode::kRateLimitExceeded, "slow down", "", 7);
  CHECK(limit.status == 429);
  CHECK(limit.retry_after_s == 7);
  CHECK_FALSE(limit.no_retry);  // coming back later is the right move

  ApiError bad = InvalidRequest(ErrorCode::kMissingField, "'model' is required", "model");
  CHECK(bad.status == 400);
  CHECK(bad.param == "model");
  CHECK(ErrorBody(bad) ==
        R"({"error":{"message":"'model' is required","type":"invalid_request_error",)"
        R"("param":"model","code":"missing_field"}})");
  CHECK(ErrorBody(bad, ErrorShape::kAnthropic) ==
        R"({"type":"error","error":{"type":"invalid_request_error",)"
        R"("message":"'model' is required"}})");

  // An upstream's own 4xx keeps its status and its type and code.
  ApiError relayed = RelayedError(422, "invalid_request_error", "bad_schema", "tools", "no");
  CHECK(relayed.status == 422);
  CHECK(relayed.code == "bad_schema");
  CHECK(RelayedError(404, "", "", "", "gone").type == "invalid_request_error");
}

TEST_CASE("a failure code may fall back exactly when its outcome moves to another attempt",
          "[proxy][errors][outcome]") {
  for (int i = 0; i <= static_cast<int>(Outcome::kStreamInterrupted); ++i) {
    const Outcome o = static_cast<Outcome>(i);
    const OutcomeRule r = RuleFor(o);
    INFO("outcome " << OutcomeName(o));
    if (o == Outcome::kOk) {
      CHECK_FALSE(r.code.has_value());
      continue;
    }
    REQUIRE(r.code.has_value());
    const bool moves_on = r.next == NextStep::kRetry || r.next == NextStep::kNextCandidate;
    CHECK(SpecOf(*r.code).may_fall_back == moves_on);
  }
}
