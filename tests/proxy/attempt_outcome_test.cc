// The outcome table in code (RuleFor) against the table in docs/resilience.md, row by row:
// the document is the contract, and neither can change without the other.
#include "proxy/attempt_outcome.h"

#include <catch2/catch.hpp>
#include <map>
#include <regex>
#include <set>

#include "testing/doc_table.h"

using namespace signalbox;

namespace {

constexpr Outcome kLast = Outcome::kStreamInterrupted;

std::vector<Outcome> AllOutcomes() {
  std::vector<Outcome> out;
  for (int i = 0; i <= static_cast<int>(kLast); ++i) out.push_back(static_cast<Outcome>(i));
  return out;
}

std::vector<std::vector<std::string>> TableRows(const std::string& header) {
  auto rows = testing::DocTableRows("docs/resilience.md", header);
  REQUIRE(!rows.empty());
  return rows;
}

}  // namespace

TEST_CASE("every row of docs/resilience.md's outcome table is what RuleFor() does",
          "[proxy][outcome]") {
  auto rows = TableRows("| Upstream outcome (before the commit point)");
  REQUIRE(rows.size() >= 15);
  std::map<std::string, Outcome> by_name;
  for (Outcome o : AllOutcomes()) by_name[std::string(OutcomeName(o))] = o;
  std::map<std::string, int> seen;
  for (const auto& cells : rows) {
    REQUIRE(cells.size() == 6);
    std::string name = cells[1];
    REQUIRE(name.size() > 2);
    name = name.substr(1, name.size() - 2);  // strip the backticks
    INFO("row: " << cells[0] << " (" << name << ")");
    REQUIRE(by_name.count(name) == 1);
    ++seen[name];
    OutcomeRule r = RuleFor(by_name[name]);
    const std::map<std::string, CircuitVerdict> circuits = {
        {"failure", CircuitVerdict::kFailure},
        {"success", CircuitVerdict::kSuccess},
        {"none", CircuitVerdict::kNone},
        {"rate limited", CircuitVerdict::kRateLimited}};
    REQUIRE(circuits.count(cells[2]) == 1);
    CHECK(r.circuit == circuits.at(cells[2]));
    CHECK((cells[3] == "yes") == (r.next == NextStep::kRetry));
    CHECK((cells[4] == "yes") ==
          (r.next == NextStep::kRetry || r.next == NextStep::kNextCandidate));
    std::smatch m;
    if (std::regex_search(cells[5], m, std::regex("^([0-9]{3})"))) {
      CHECK(std::stoi(m[1]) == r.status);
    } else {
      CHECK(cells[5] == "that 4xx");
      CHECK(r.status == 0);
    }
  }
  for (Outcome o : AllOutcomes()) {
    // Success is the absence of a row; an interrupted stream exists only after the commit.
    if (o == Outcome::kOk || o == Outcome::kStreamInterrupted) continue;
    INFO("outcome " << OutcomeName(o) << " has no row, or more than one");
    CHECK(seen[std::string(OutcomeName(o))] == 1);
  }
}

TEST_CASE("every row of docs/resilience.md's after-the-commit table is what RuleFor() does",
          "[proxy][outcome]") {
  auto rows = TableRows("| After the commit point");
  REQUIRE(rows.size() >= 4);
  std::map<std::string, Outcome> by_name;
  for (Outcome o : AllOutcomes()) by_name[std::string(OutcomeName(o))] = o;
  std::map<std::string, CircuitVerdict> circuits = {{"failure", CircuitVerdict::kFailure},
                                                    {"success", CircuitVerdict::kSuccess},
                                                    {"none", CircuitVerdict::kNone}};
  std::set<std::string> seen;
  for (const auto& cells : rows) {
    REQUIRE(cells.size() == 5);
    std::string name = cells[1].substr(1, cells[1].size() - 2);
    INFO("row: " << cells[0] << " (" << name << ")");
    REQUIRE(by_name.count(name) == 1);
    seen.insert(name);
    OutcomeRule r = RuleFor(by_name[name]);
    REQUIRE(circuits.count(cells[3]) == 1);
    CHECK(r.circuit == circuits.at(cells[3]));
    CHECK((r.next == NextStep::kDone || r.next == NextStep::kStop));  // never a fallback
    if (r.code)
      CHECK((cells[2].find(std::string(CodeName(*r.code))) != std::string::npos ||
             name == "client_gone"));
  }
  CHECK(seen == std::set<std::string>{"ok", "stream_interrupted", "client_gone", "shutting_down"});
}

TEST_CASE("upstream statuses and transport errors map to outcomes", "[proxy][outcome]") {
  const std::vector<std::pair<int, Outcome>> statuses = {
      {200, Outcome::kOk},           {204, Outcome::kUnexpected2xx}, {206, Outcome::kUnexpected2xx},
      {301, Outcome::kRedirect},     {400, Outcome::kClientError},   {404, Outcome::kClientError},
      {401, Outcome::kUpstreamAuth}, {403, Outcome::kUpstreamAuth},  {408, Outcome::kUpstream5xx},
      {422, Outcome::kClientError},  {429, Outcome::kRateLimited},   {500, Outcome::kUpstream5xx},
      {502, Outcome::kUpstream5xx},  {503, Outcome::kUpstream503},   {504, Outcome::kUpstream5xx},
      {100, Outcome::kReset}};
  for (const auto& [status, want] : statuses) {
    INFO("status " << status);
    CHECK(OutcomeOfStatus(status) == want);
  }
  const std::vector<std::pair<CallError, Outcome>> errors = {
      {CallError::kConnect, Outcome::kConnectFailed},
      {CallError::kTls, Outcome::kTlsFailed},
      {CallError::kReset, Outcome::kReset},
      {CallError::kFirstByteTimeout, Outcome::kFirstByteTimeout},
      {CallError::kIdleTimeout, Outcome::kIdleTimeout},
      {CallError::kTotalTimeout, Outcome::kTotalTimeout},
      {CallError::kClientGone, Outcome::kClientGone},
      {CallError::kShutdown, Outcome::kShutdown}};
  for (const auto& [e, want] : errors) {
    INFO("error " << CallErrorName(e));
    CHECK(OutcomeOf(e) == want);
  }
}
