// The configuration as plain structs: what config/loader.cc produces from YAML after
// expansion, defaults and validation. Immutable once loaded; runtime/ compiles it into
// a Snapshot. Every key here is documented in config/README.md.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace signalbox {

using Duration = std::chrono::milliseconds;

// 1-based position of a YAML node; 0 when unknown.
struct SourcePos {
  int line = 0;
  int col = 0;
};

// A problem found in a parsed config by the module that owns a part of its vocabulary
// (e.g. classify/ knows the signal names): reported like the loader's own errors.
struct ConfigProblem {
  SourcePos pos;
  std::string path;  // e.g. classifier.signals.lenght
  std::string message;
};

struct RetryBudgetConfig {
  double ratio = 0.2;  // concurrent retries allowed as a share of active requests
  int min = 3;         // ... but never fewer than this
};

struct ServerTimeouts {
  Duration read{std::chrono::seconds(30)};    // per read of a request once headers started
  Duration write{std::chrono::seconds(300)};  // per write to a slow client
  Duration idle{std::chrono::seconds(60)};    // keep-alive idle before the connection closes
  Duration drain{std::chrono::seconds(20)};   // SIGTERM: how long in-flight requests may finish
  Duration header{std::chrono::seconds(10)};  // a request's line and headers (from accept)
  Duration body{std::chrono::seconds(10)};    // a body's allowance, + 1 s per min_body_rate bytes
};

// After a refusal the gateway reads and discards what the client still sends, then
// closes (nginx's lingering close), so the client can read the refusal.
struct LingeringCloseConfig {
  Duration time{std::chrono::seconds(30)};  // total; 0 = close at once
  Duration idle{std::chrono::seconds(5)};   // longest wait for the next byte
  uint64_t max_bytes = 64ull << 20;         // discarded per connection
};

// What the gateway sends upstream as X-Forwarded-For / X-Forwarded-Proto. A client's own
// forwarding headers (X-Forwarded-*, Forwarded, X-Real-IP) are never passed as they are.
enum class ForwardedFor {
  kReplace,  // default: drop the client's; send X-Forwarded-For: <peer>, X-Forwarded-Proto: http
  kAppend,   // behind a trusted proxy: keep its X-Forwarded-* and append the peer to the chain
  kNone,     // drop the client's and send none
};

struct ServerConfig {
  std::string listen = "0.0.0.0:8080";
  std::string admin_token;  // empty = admin endpoints open (warned at start-up)
  uint64_t max_body_bytes = 8ull << 20;
  int max_streams = 2048;
  int max_headers = 100;
  uint64_t max_header_bytes = 64ull << 10;  // request line + headers, in bytes
  int max_connections = 4096;               // concurrent client connections (one thread each)
  // Responses ids remembered for previous_response_id affinity (least recently used go).
  int response_affinity_entries = 100'000;
  uint64_t min_body_rate = 4096;  // bytes/s a request body must keep up
  LingeringCloseConfig lingering_close;
  std::string access_log;     // empty = stdout
  Duration sse_heartbeat{0};  // 0 = off
  ForwardedFor forwarded_for = ForwardedFor::kReplace;
  RetryBudgetConfig retry_budget;
  ServerTimeouts timeouts;
};

struct PriceConfig {
  double input_per_mtok = 0;   // USD per million input tokens
  double output_per_mtok = 0;  // USD per million output tokens
  // Input tokens the upstream read from its prompt cache (OpenAI cached_tokens, Anthropic
  // cache_read_input_tokens) and wrote to it (Anthropic cache_creation_input_tokens).
  // nullopt = billed at input_per_mtok: never below the real price unless set.
  std::optional<double> cached_input_per_mtok;
  std::optional<double> cache_write_per_mtok;
};

struct BackendTimeouts {
  Duration connect{std::chrono::seconds(2)};
  Duration first_byte{std::chrono::seconds(30)};
  Duration idle{std::chrono::seconds(60)};
  Duration total{std::chrono::seconds(600)};
};

struct CircuitConfig {
  int failures = 5;                             // consecutive failures that open the circuit
  Duration cooldown{std::chrono::seconds(30)};  // first ejection; doubles on repeats
};

struct HealthCheckConfig {
  Duration interval{0};  // 0 = off
  std::string path = "/models";
};

enum class AuthMode { kBearer, kApiKey, kXApiKey, kNone };

// How a backend spreads requests over its deployments (backends[].balance).
enum class BalancePolicy {
  kLeastInflight,   // weighted power-of-two-choices on in-flight requests (default)
  kWeightedRandom,  // one draw in proportion to weight
  kRoundRobin,      // in list order, each deployment taking `weight` turns
};
std::string_view BalancePolicyName(BalancePolicy p);

// One copy of a backend's model (backends[].deployments[]); a backend with a single
// `url` has one implicit deployment named "0".
struct DeploymentConfig {
  std::string name;     // label in metrics, logs and errors: `name`, else the index "0", "1", ...
  std::string url;      // as written
  std::string api_key;  // empty = the backend's api_key
  int weight = 1;
  // Sent upstream on top of the backend's headers (same name: the deployment's wins).
  std::vector<std::pair<std::string, std::string>> headers;
  // Identity that survives reloads and reordering: the url, plus "#k" for the k-th
  // repeat of the same url in this backend (several API keys on one endpoint).
  std::string key;
  // Derived from url.
  std::string scheme;
  std::string host;
  int port = 0;
  std::string base_path;
  SourcePos pos;
};

// The inbound API families a backend serves natively (backends[].api). kChat covers
// chat completions, completions and embeddings.
enum class ApiFamily { kChat, kResponses, kMessages };
std::string_view ApiFamilyName(ApiFamily a);  // "chat", "responses", "messages"

struct BackendConfig {
  std::string name;
  std::string url;    // as written, e.g. http://127.0.0.1:8001/v1
  std::string model;  // model name sent upstream
  std::string api_key;
  PriceConfig price;
  int64_t context_window = 0;  // tokens; 0 = unknown (never skipped for size)
  int max_concurrency = 256;
  BackendTimeouts timeouts;
  int retries = 0;
  CircuitConfig circuit;
  HealthCheckConfig health_check;
  AuthMode auth = AuthMode::kBearer;
  std::vector<std::pair<std::string, std::string>> headers;
  bool stream_usage = true;
  std::vector<ApiFamily> api = {ApiFamily::kChat};
  bool Serves(ApiFamily a) const;
  // Never empty once loaded: the `deployments` listed, or one made from `url`.
  std::vector<DeploymentConfig> deployments;
  bool listed_deployments = false;  // `deployments:` was written (not the implicit one)
  BalancePolicy balance = BalancePolicy::kLeastInflight;
  std::string affinity_header;  // lower-cased NAME of `affinity: header:NAME`; "" = none

  // Derived from url (of the first deployment when `deployments` is used).
  std::string scheme;  // http or https
  std::string host;    // without brackets
  int port = 0;
  std::string base_path;  // e.g. /v1 (no trailing slash)

  SourcePos pos;
};

struct ClassifierConfig {
  // Signal name -> weight, only for signals the YAML sets; the rest keep their defaults.
  std::map<std::string, double> signal_weights;
  // Signal name -> extra keywords merged with the built-in list.
  std::map<std::string, std::vector<std::string>> keywords;
  // Tier name -> lower bound of its score, in ascending order of bound.
  std::vector<std::pair<std::string, double>> tiers = {
      {"simple", 0.0}, {"medium", 0.35}, {"complex", 0.6}};
  // Every signal name the YAML uses (under signals: and keywords:) and where: the
  // config does not know the classifier's vocabulary; classify::CheckConfig() checks it.
  struct NameUse {
    std::string path;  // classifier.signals.NAME or classifier.keywords.NAME
    std::string name;
    SourcePos pos;
  };
  std::vector<NameUse> signal_names;
};

enum class OnExceed { kDowngrade, kReject };

struct KeyConfig {
  std::string id;
  std::array<uint8_t, 32> sha256{};  // SHA-256 of the bearer token
  std::optional<double> daily_usd;   // nullopt = unlimited
  std::optional<double> monthly_usd;
  // Per-key limits (nullopt = unlimited): requests and tokens (input + output, estimated
  // at admission, settled on usage) per sliding minute, and requests in flight.
  std::optional<int64_t> rpm;
  std::optional<int64_t> tpm;
  std::optional<int64_t> max_parallel;
  // Requested model names this key may use; nullopt = any.
  std::optional<std::vector<std::string>> models;
  SourcePos pos;
};

struct BudgetsConfig {
  std::string ledger_path = "./state/ledger.db";
  std::optional<double> request_max_usd;  // nullopt = no per-request cap
  int64_t default_output_tokens = 512;
  OnExceed on_exceed = OnExceed::kDowngrade;
  std::vector<KeyConfig> keys;
};

struct NumRange {
  std::optional<double> gte;
  std::optional<double> lt;
};

struct WhenConfig {
  std::vector<std::string> tier;  // any of; empty = no condition
  std::optional<NumRange> score;
  std::vector<std::string> model;                           // requested model name, any of
  std::vector<std::string> key;                             // key id, any of
  std::vector<std::pair<std::string, std::string>> header;  // all must match (name lower-cased)
  std::optional<bool> has_tools;
  std::optional<bool> has_images;
  std::optional<bool> stream;
  std::optional<NumRange> input_tokens;
};

struct RuleConfig {
  std::string name;
  WhenConfig when;
  std::vector<std::string> route;  // backend names: target first, then fallbacks
  SourcePos pos;
};

struct RouterConfig {
  std::vector<std::string> virtual_models = {"auto"};
  bool allow_explicit_models = true;
  std::vector<RuleConfig> rules;
};

// cluster: state shared by every replica through Redis.
enum class OnUnavailable { kLocal, kReject };

struct ClusterConfig {
  std::string redis;  // redis://[:password@]host:port/db; empty = this process alone
  OnUnavailable on_unavailable = OnUnavailable::kLocal;
  // Longest wait for one Redis round trip on the request path; beyond, Redis counts as
  // unavailable (on_unavailable applies) until a background probe sees it answer again.
  Duration timeout{std::chrono::milliseconds(100)};
  // A reservation or max_parallel slot held by a replica that stops renewing it (killed)
  // is dropped this long after its last renewal.
  Duration lease{std::chrono::seconds(30)};
  std::string key_prefix = "signalbox:";  // every Redis key starts with this
  // How long a Responses id -> backend mapping (previous_response_id affinity) is kept.
  Duration affinity_ttl{std::chrono::hours(24 * 7)};

  // Derived from redis.
  std::string host;
  int port = 6379;
  int db = 0;
  std::string password;
  bool enabled() const { return !redis.empty(); }
};

struct Config {
  std::string path;          // file it was loaded from
  std::string content_hash;  // hex SHA-256 of the file bytes
  ServerConfig server;
  std::vector<BackendConfig> backends;
  ClassifierConfig classifier;
  bool has_budgets = false;  // a budgets: section is present
  BudgetsConfig budgets;
  ClusterConfig cluster;
  RouterConfig router;
};

}  // namespace signalbox
