// Shared by budget_test.cc and budget_durability_test.cc: a gateway with two keys in front
// of two signalbox-mock models at whole-dollar prices, and readers for the ledger file
// (SQLite, table `attempts`), GET /admin/spend and `signalbox spend --json`.
#pragma once

// Tests name only the BudgetOptions fields that differ from the defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "budget/money.h"
#include "budget/spool.h"
#include "integration/gateway_process.h"
#include "integration/mock_process.h"
#include "integration/process.h"
#include "integration/sse_client.h"

namespace signalbox::testing::budget_it {

using nlohmann::json;

inline constexpr const char* kKeyA = "sk-team-a-0123456789";
inline constexpr const char* kKeyB = "sk-team-b-9876543210";

// Nano-dollars per token: small $1/$2 per Mtok, large $10/$30 per Mtok.
inline constexpr int64_t kSmallIn = 1000, kSmallOut = 2000;
inline constexpr int64_t kLargeIn = 10000, kLargeOut = 30000;

// The mocks' usage for every answer when started with these flags: 100 prompt and 50
// completion tokens, whatever was generated.
inline const std::vector<std::string> kFixedUsage = {"--usage-prompt", "100", "--usage-completion",
                                                     "50"};
inline constexpr int64_t kSmallFixed = 100 * kSmallIn + 50 * kSmallOut;  // 200'000 nano-dollars
inline constexpr int64_t kLargeFixed = 100 * kLargeIn + 50 * kLargeOut;  // 2'500'000

inline const httplib::Headers kA = {{"Authorization", "Bearer " + std::string(kKeyA)}};
inline const httplib::Headers kB = {{"Authorization", "Bearer " + std::string(kKeyB)}};

// `h` plus x-request-id and `more`.
inline httplib::Headers With(httplib::Headers h, const std::string& id,
                             std::initializer_list<std::pair<std::string, std::string>> more = {}) {
  h.emplace("x-request-id", id);
  for (const auto& [k, v] : more) h.emplace(k, v);
  return h;
}

inline std::vector<std::pair<std::string, std::string>> KeyEnv() {
  return {{"TEAM_A_KEY", kKeyA}, {"TEAM_B_KEY", kKeyB}};
}

inline std::vector<std::string> Concat(std::vector<std::string> a,
                                       const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// USD (a JSON number or a double) as nano-dollars; INT64_MIN for anything else (null).
inline int64_t Nano(const json& v) {
  if (!v.is_number()) return std::numeric_limits<int64_t>::min();
  return std::llround(v.get<double>() * 1e9);
}

struct BudgetOptions {
  std::vector<std::string> small_args, large_args;  // extra mock flags
  std::string small_price = "{input_per_mtok: 1.00, output_per_mtok: 2.00}";
  std::string team_a;  // lines under team-a, e.g. "      daily_usd: 1\n"
  std::string team_b;
  std::string budgets_extra;  // lines under budgets:, indented by two
  std::string backend_extra;  // lines under each backend, indented by four
  std::string rules = "    - name: default\n      route: [small, large]\n";
  std::string ledger_path = "{STATE}/ledger.db";
  std::string server_extra;  // lines under server:, indented by two
  bool keys = true;          // false: no budgets.keys (requests count as "anonymous")
};

inline std::string KeysYaml(const BudgetOptions& o) {
  return "  keys:\n    - id: team-a\n      key: ${TEAM_A_KEY}\n" + o.team_a +
         "    - id: team-b\n      key: ${TEAM_B_KEY}\n" + o.team_b;
}

inline std::string BudgetConfig(const RunningMock& small, const RunningMock& large,
                                const BudgetOptions& o) {
  return fmt::format(R"(server:
  listen: 127.0.0.1:0
{server}
backends:
  - name: small
    url: {small}/v1
    model: small-model
    price: {small_price}
{backend}
  - name: large
    url: {large}/v1
    model: large-model
    price: {{input_per_mtok: 10.00, output_per_mtok: 30.00}}
{backend}
budgets:
  ledger_path: {ledger}
{budgets}{keys}
router:
  rules:
{rules})",
                     fmt::arg("server", o.server_extra), fmt::arg("small", small.BaseUrl()),
                     fmt::arg("small_price", o.small_price), fmt::arg("backend", o.backend_extra),
                     fmt::arg("large", large.BaseUrl()), fmt::arg("ledger", o.ledger_path),
                     fmt::arg("budgets", o.budgets_extra), fmt::arg("rules", o.rules),
                     fmt::arg("keys", o.keys ? KeysYaml(o) : ""));
}

inline RunningMock StartOrFail(const std::vector<std::string>& args) {
  auto m = StartMock(args);
  if (!m.ok()) FAIL(m.status().message());
  return std::move(m).value();
}

inline RunningGateway StartBudgetGateway(const RunningMock& small, const RunningMock& large,
                                         const BudgetOptions& o) {
  GatewayOptions go;
  go.config_yaml = BudgetConfig(small, large, o);
  go.env = KeyEnv();
  auto g = StartGateway(go);
  if (!g.ok()) FAIL(g.status().message());
  return std::move(g).value();
}

// A gateway with keys team-a and team-b in front of two mocks.
struct BudgetGateway {
  RunningMock small, large;  // empty when the gateway was started on the caller's mocks
  RunningGateway gw;
  std::string ledger;

  explicit BudgetGateway(const BudgetOptions& o) {
    small = StartOrFail(Concat({"--model", "small-model"}, o.small_args));
    large = StartOrFail(Concat({"--model", "large-model"}, o.large_args));
    gw = StartBudgetGateway(small, large, o);
    ledger = LedgerPathOf(o);
  }
  BudgetGateway(const RunningMock& s, const RunningMock& l, const BudgetOptions& o) {
    gw = StartBudgetGateway(s, l, o);
    ledger = LedgerPathOf(o);
  }
  const std::string& Ledger() const { return ledger; }

 private:
  std::string LedgerPathOf(const BudgetOptions& o) const {
    std::string p = o.ledger_path;
    if (auto at = p.find("{STATE}"); at != std::string::npos) p.replace(at, 7, gw.dir);
    return p;
  }
};

// One row of the ledger's `attempts` table.
struct Row {
  std::string request_id;  // the x-request-id: the part of the ledger's id before its '@'
  std::string call_id;     // the gateway's call id after the '@' (unique per request)
  int attempt = 0;
  std::string key_id, backend;
  int64_t input_tokens = 0, output_tokens = 0;
  double cost_usd = 0;
  int64_t cost_nusd = 0;
  bool estimated = false;
  std::string outcome;
};

// Splits the ledger's "<x-request-id>@<call id>" into the row's two fields.
inline void SplitLedgerId(const std::string& id, Row* r) {
  size_t at = id.rfind('@');
  r->request_id = at == std::string::npos ? id : id.substr(0, at);
  r->call_id = at == std::string::npos ? "" : id.substr(at + 1);
}

// Every row (or those of one x-request-id), ordered by request id and attempt: the rows
// of the SQLite file plus the records still in the live gateway's spool (read first, as
// budget::Ledger's read-only side does). A missing file has no rows. Opens its own
// read-only connection, as a second process would.
inline std::vector<Row> Rows(const std::string& path, const std::string& request_id = "") {
  std::vector<Row> out;
  std::vector<budget::AttemptRecord> spooled;
  for (const std::string& file : {path + ".spool", path + ".spool.old"}) {
    auto content = budget::ReadSpoolFile(file);
    if (!content.ok()) FAIL("cannot read the spool: " << content.status().ToString());
    for (auto& rec : content->records) spooled.push_back(std::move(rec));
  }
  if (!std::filesystem::exists(path)) return out;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    FAIL("cannot open the ledger " << path << ": " << msg);
  }
  sqlite3_busy_timeout(db, 5000);
  const char* sql =
      "SELECT request_id, attempt, key_id, backend, input_tokens, output_tokens, cost_usd, "
      "cost_nusd, "
      "estimated, outcome FROM attempts";
  sqlite3_stmt* st = nullptr;
  rc = sqlite3_prepare_v2(db, sql, -1, &st, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = sqlite3_errmsg(db);
    sqlite3_close(db);
    FAIL("cannot query the ledger: " << msg);
  }
  auto text = [st](int c) {
    const unsigned char* t = sqlite3_column_text(st, c);
    return t ? std::string(reinterpret_cast<const char*>(t)) : std::string();
  };
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    Row r;
    SplitLedgerId(text(0), &r);
    r.attempt = sqlite3_column_int(st, 1);
    r.key_id = text(2);
    r.backend = text(3);
    r.input_tokens = sqlite3_column_int64(st, 4);
    r.output_tokens = sqlite3_column_int64(st, 5);
    r.cost_usd = sqlite3_column_double(st, 6);
    r.cost_nusd = sqlite3_column_int64(st, 7);
    r.estimated = sqlite3_column_int(st, 8) != 0;
    r.outcome = text(9);
    out.push_back(std::move(r));
  }
  std::string msg = rc == SQLITE_DONE ? "" : sqlite3_errmsg(db);
  sqlite3_finalize(st);
  sqlite3_close(db);
  if (!msg.empty()) FAIL("reading the ledger failed: " << msg);
  std::set<std::pair<std::string, int>> seen;
  for (const Row& r : out) seen.emplace(r.request_id + "@" + r.call_id, r.attempt);
  for (const budget::AttemptRecord& rec : spooled) {
    if (!seen.emplace(rec.request_id, rec.attempt).second) continue;
    Row r;
    SplitLedgerId(rec.request_id, &r);
    r.attempt = rec.attempt;
    r.key_id = rec.key_id;
    r.backend = rec.backend;
    r.input_tokens = rec.input_tokens;
    r.output_tokens = rec.output_tokens;
    r.cost_usd = rec.cost_usd;
    r.cost_nusd = budget::ToNanoUsd(rec.cost_usd);
    r.estimated = rec.estimated;
    r.outcome = rec.outcome;
    out.push_back(std::move(r));
  }
  if (!request_id.empty()) {
    std::erase_if(out, [&](const Row& r) { return r.request_id != request_id; });
  }
  std::sort(out.begin(), out.end(), [](const Row& a, const Row& b) {
    return std::tie(a.request_id, a.attempt) < std::tie(b.request_id, b.attempt);
  });
  return out;
}

// The row of `request_id` in `rows` (attempt 1 or the only one); an empty row if none.
inline Row RowOf(const std::vector<Row>& rows, const std::string& request_id) {
  for (const Row& r : rows) {
    if (r.request_id == request_id) return r;
  }
  Row missing;
  missing.request_id = "<no row for " + request_id + ">";
  return missing;
}

// Polls the ledger until `request_id` has at least `n` rows or `timeout` passes.
inline std::vector<Row> WaitForRows(const std::string& path, const std::string& request_id,
                                    size_t n,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto rows = Rows(path, request_id);
    if (rows.size() >= n || std::chrono::steady_clock::now() >= until) return rows;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

inline json AdminSpend(const RunningGateway& gw) {
  auto r = gw.Client()->Get("/admin/spend");
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 200);
  return json::parse(r->body);
}

// `signalbox spend --json --config <the gateway's config>`, run as its own process.
inline json CliSpend(const std::string& config_path) {
  ProcessOptions po;
  po.argv = {SIGNALBOX_BIN, "spend", "--json", "--config", config_path};
  po.env = KeyEnv();
  auto p = Process::Start(po);
  REQUIRE(p.ok());
  int rc = (*p)->Wait();
  auto line = (*p)->WaitForLine([](const std::string& l) { return !l.empty() && l[0] == '{'; },
                                std::chrono::seconds(5));
  INFO((*p)->Output());
  REQUIRE(rc == 0);
  REQUIRE(line);
  return json::parse(*line);
}
inline json CliSpend(const RunningGateway& gw) { return CliSpend(gw.config_path); }

inline json KeyLine(const json& spend, const std::string& id) {
  for (const auto& k : spend["keys"]) {
    if (k["id"] == id) return k;
  }
  return json();
}

inline json BackendLine(const json& spend, const std::string& name) {
  for (const auto& b : spend["backends"]) {
    if (b["name"] == name) return b;
  }
  return json();
}

// POST /v1/route: the decision (candidates with estimated_cost_usd, input_tokens, budget).
inline json Route(const RunningGateway& gw, const std::string& body,
                  const httplib::Headers& headers) {
  auto r = gw.Client()->Post("/v1/route", headers, body, "application/json");
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 200);
  return json::parse(r->body);
}

}  // namespace signalbox::testing::budget_it
