// `signalbox serve`: the composition root of the running gateway.
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "app/verbs.h"
#include "budget/ledger.h"
#include "budget/spend_tracker.h"
#include "cluster/cluster_state.h"
#include "cluster/redis_affinity_map.h"
#include "common/log.h"
#include "config/units.h"
#include "metrics/access_log.h"
#include "metrics/gateway_metrics.h"
#include "metrics/registry.h"
#include "proxy/gateway.h"
#include "runtime/config_watcher.h"
#include "runtime/health_checker.h"
#include "runtime/reloader.h"
#include "server/http_server.h"

namespace signalbox::app {
namespace {

ServerLimits LimitsFor(const ServerConfig& s) {
  ServerLimits l;
  l.conn.read_timeout = s.timeouts.read;
  l.conn.write_timeout = s.timeouts.write;
  l.conn.header_timeout = s.timeouts.header;
  l.conn.max_header_bytes = s.max_header_bytes;
  l.conn.body_timeout = s.timeouts.body;
  l.conn.min_body_rate = s.min_body_rate;
  l.linger.time = s.lingering_close.time;
  l.linger.idle = s.lingering_close.idle;
  l.linger.max_bytes = s.lingering_close.max_bytes;
  // A lingering socket costs a file descriptor, not a thread.
  l.linger.max_sockets = std::max<size_t>(4096, static_cast<size_t>(s.max_connections));
  l.max_body_bytes = s.max_body_bytes;
  l.max_headers = s.max_headers;
  l.max_connections = static_cast<size_t>(s.max_connections);
  l.keepalive_idle = s.timeouts.idle;
  return l;
}

std::vector<std::string> BackendNames(const Snapshot& s) {
  std::vector<std::string> out;
  for (const auto& b : s.backends) out.push_back(b.cfg->name);
  return out;
}

std::vector<std::string> KeyIds(const Snapshot& s) {
  std::vector<std::string> out;
  for (const auto& k : s.keys) out.push_back(k.id);
  if (out.empty()) out.push_back(std::string(metrics::kAnonymousKey));
  return out;
}

void StartupWarnings(const Snapshot& s) {
  if (s.config->server.admin_token.empty()) {
    Log(LogLevel::kWarn,
        "server.admin_token is not set: /admin/* is open to anyone who can reach the port");
  }
  if (!s.keys_configured()) {
    Log(LogLevel::kWarn,
        "no budgets.keys configured: /v1/* is open to anyone who can reach the port");
  }
}

}  // namespace

int RunServe(const Args& args) {
  if (auto lvl = args.Get("log-level")) {
    LogLevel l;
    if (!ParseLogLevel(*lvl, &l)) {
      std::fprintf(stderr, "signalbox serve: --log-level must be debug, info, warn or error\n");
      return 2;
    }
    SetLogLevel(l);
  }
  // Signals are handled by sigwait() in this thread; every thread started later inherits
  // the mask, so no handler ever runs in a request thread.
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGHUP, SIGTERM, SIGINT, SIGUSR1}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  const Clock& clock = Clock::Real();
  BackendRegistry registry(clock);
  ConfigStore store;
  metrics::Registry metrics_registry;
  auto gm = metrics::GatewayMetrics::Register(metrics_registry);
  if (!gm.ok()) {
    Log(LogLevel::kError, "metrics setup failed").Field("error", gm.status().message());
    return 1;
  }
  metrics::GatewayMetrics gmetrics = *gm;
  RetryBudget retry_budget;
  auto on_published = [&](const Snapshot& s) {
    retry_budget.Configure(s.config->server.retry_budget.ratio, s.config->server.retry_budget.min);
    gmetrics.Precreate(BackendNames(s), KeyIds(s));
    for (const auto& k : s.keys) {
      std::vector<std::string_view> limits;
      if (k.rate.rpm) limits.push_back(budget::LimitLabel(budget::LimitKind::kRequests));
      if (k.rate.tpm) limits.push_back(budget::LimitLabel(budget::LimitKind::kTokens));
      if (k.rate.max_parallel) limits.push_back(budget::LimitLabel(budget::LimitKind::kParallel));
      gmetrics.PrecreateLimits(k.id, limits);
    }
  };
  auto on_result = [&](const ReloadResult& r) {
    gmetrics.config_reloads
        ->WithLabels({std::string(r.ok ? metrics::kReloadSuccess : metrics::kReloadFailure)})
        .Inc();
  };
  Reloader reloader(args.ConfigPath(), store, registry, on_published, on_result);
  ReloadResult first = reloader.LoadInitial();
  if (!first.ok) {
    for (const auto& e : first.errors) std::fprintf(stderr, "%s\n", e.c_str());
    return 1;
  }
  auto snap = store.Current();
  StartupWarnings(*snap);
  // File changes trigger a reload too (editor saves, Kubernetes ConfigMap swaps); SIGHUP
  // and POST /admin/reload keep working if the watch cannot be set up.
  ConfigWatcher watcher(reloader.path(), [&reloader] { reloader.Reload("file"); });
  if (Status s = watcher.Start(); !s.ok()) {
    Log(LogLevel::kWarn, "config file watching is off; SIGHUP and POST /admin/reload still reload")
        .Field("error", s.message());
  }
  (void)metrics::RegisterBackendUp(metrics_registry,
                                   [&store](std::vector<metrics::GaugeSample>& out) {
                                     auto s = store.Current();
                                     for (const auto& b : s->backends)
                                       out.push_back({{b.cfg->name}, b.Unavailable() ? 0.0 : 1.0});
                                   });
  (void)metrics::RegisterDeploymentInflight(
      metrics_registry, [&store](std::vector<metrics::GaugeSample>& out) {
        auto s = store.Current();
        for (const auto& b : s->backends) {
          for (const auto& d : b.deployments)
            out.push_back({{b.cfg->name, d.name()}, double(d.state->inflight.load())});
        }
      });

  auto access_log = metrics::AccessLog::Open(snap->config->server.access_log);
  if (!access_log.ok()) {
    Log(LogLevel::kError, "cannot open the access log")
        .Field("path", snap->config->server.access_log)
        .Field("error", access_log.status().message());
    return 1;
  }
  StatusOr<std::unique_ptr<budget::Ledger>> ledger = std::unique_ptr<budget::Ledger>();
  if (args.Has("no-ledger")) {
    Log(LogLevel::kWarn, "--no-ledger: spend is kept in memory only and lost on exit");
  } else {
    ledger = budget::Ledger::Open(snap->config->budgets.ledger_path);
  }
  if (!ledger.ok()) {
    Log(LogLevel::kError, "cannot open the spend ledger")
        .Field("path", snap->config->budgets.ledger_path)
        .Field("error", ledger.status().message());
    return 1;
  }
  auto tracker = budget::SpendTracker::Create(ledger->get(), clock);
  if (!tracker.ok()) {
    Log(LogLevel::kError, "cannot rebuild budgets from the ledger")
        .Field("error", tracker.status().message());
    return 1;
  }

  Watchdog watchdog;
  HealthChecker health_checker(store);
  std::atomic<bool> draining{false};
  LocalAffinityMap affinity(static_cast<size_t>(snap->config->server.response_affinity_entries));
  budget::LocalRateLimiter limiter(clock);
  std::unique_ptr<cluster::ClusterState> cluster_state;
  if (const ClusterConfig& cc = snap->config->cluster; cc.enabled()) {
    cluster::ClusterOptions co;
    co.endpoint = {cc.host, cc.port, cc.db, cc.password,
                   std::chrono::duration_cast<std::chrono::milliseconds>(cc.timeout)};
    co.prefix = cc.key_prefix;
    co.reject_when_down = cc.on_unavailable == OnUnavailable::kReject;
    co.lease = std::chrono::duration_cast<std::chrono::milliseconds>(cc.lease);
    // Stable across restarts (the ledger's contribution to a rebuilt Redis is counted
    // once per replica): kept beside the ledger.
    co.replica_id = args.Has("no-ledger")
                        ? cluster::LoadReplicaId("/dev/null")
                        : cluster::LoadReplicaId(snap->config->budgets.ledger_path + ".replica");
    cluster_state = std::make_unique<cluster::ClusterState>(co, tracker->get(), clock);
    cluster_state->Start();
    Log(LogLevel::kInfo, "cluster: budgets and limits shared through Redis")
        .Field("redis", fmt::format("{}:{}/{}", cc.host, cc.port, cc.db))
        .Field("replica", co.replica_id)
        .Field("up", cluster_state->up());
  }
  (void)metrics::RegisterClusterUp(
      metrics_registry, [&cluster_state](std::vector<metrics::GaugeSample>& out) {
        out.push_back({{}, cluster_state == nullptr || cluster_state->up() ? 1.0 : 0.0});
      });
  // previous_response_id affinity: shared through Redis when the cluster is configured.
  std::unique_ptr<cluster::RedisAffinityMap> shared_affinity;
  if (const ClusterConfig& cc = snap->config->cluster; cc.enabled()) {
    shared_affinity = std::make_unique<cluster::RedisAffinityMap>(
        cluster::RedisEndpoint{cc.host, cc.port, cc.db, cc.password,
                               std::chrono::duration_cast<std::chrono::milliseconds>(cc.timeout)},
        cc.key_prefix, std::chrono::duration_cast<std::chrono::seconds>(cc.affinity_ttl),
        &affinity);
  }
  GatewayDeps deps;
  deps.affinity = shared_affinity ? static_cast<AffinityMap*>(shared_affinity.get()) : &affinity;
  deps.limiter = &limiter;
  deps.cluster = cluster_state.get();
  deps.clock = &clock;
  deps.store = &store;
  deps.watchdog = &watchdog;
  deps.retry_budget = &retry_budget;
  deps.spend = tracker->get();
  deps.registry = &metrics_registry;
  deps.metrics = &gmetrics;
  deps.access_log = access_log->get();
  deps.reload = [&reloader](const std::string& trigger) { return reloader.Reload(trigger); };
  deps.draining = &draining;
  Gateway gateway(deps);

  std::string listen = args.Get("listen").value_or(snap->config->server.listen);
  std::string host;
  int port = 0;
  if (!SplitHostPort(listen, &host, &port)) {
    std::fprintf(stderr, "signalbox serve: --listen must be HOST:PORT\n");
    return 2;
  }
  HttpServer server(LimitsFor(snap->config->server));
  // From now on a reload cannot change what the listener and the access log were built
  // with (it warns and keeps these values), nor remove the admin token.
  reloader.SetRunning(snap->config->server);
  gateway.Register(server);
  if (Status s = server.Bind(host, port); !s.ok()) {
    Log(LogLevel::kError, "cannot listen").Field("address", listen).Field("error", s.message());
    return 1;
  }
  Log(LogLevel::kInfo, "listening")
      .Field("address", fmt::format("{}:{}", host, server.port()))
      .Field("version", SIGNALBOX_VERSION)
      .Field("config_version", static_cast<int64_t>(snap->version));
  std::thread server_thread([&server] { server.Run(); });

  // Signals: SIGHUP reloads, SIGUSR1 reopens the access log, SIGTERM/SIGINT drain (a
  // second one exits at once).
  std::thread([&] {
    bool stopping = false;
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (sig == SIGHUP) {
        reloader.Reload("sighup");
      } else if (sig == SIGUSR1) {
        Status s = (*access_log)->Reopen();
        Log(s.ok() ? LogLevel::kInfo : LogLevel::kError, "access log reopened").Field("ok", s.ok());
      } else if (!stopping) {
        stopping = true;
        draining = true;
        Duration drain = store.Current()->config->server.timeouts.drain;
        Log(LogLevel::kInfo, "shutting down: draining in-flight requests")
            .Field("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT")
            .Field("drain_ms", static_cast<int64_t>(drain.count()));
        server.Stop();
        // When the drain period is over, cut what is left: every upstream call is
        // stopped, so streams end with an error event and plain requests with an error.
        std::thread([&watchdog, drain] {
          std::this_thread::sleep_for(drain);
          Log(LogLevel::kWarn, "drain period over: cancelling the requests still in flight");
          watchdog.FireAll();
        }).detach();
      } else {
        Log(LogLevel::kWarn, "second stop signal: exiting now");
        std::_Exit(1);
      }
    }
  }).detach();
  server_thread.join();
  // Records whose ledger write failed are retried once more before exit.
  if (Status s = (*tracker)->Settle({}); !s.ok()) {
    Log(LogLevel::kError, "spend could not be written to the ledger").Field("error", s.message());
  }
  Log(LogLevel::kInfo, "stopped");
  std::fflush(stdout);
  std::_Exit(0);  // detached helper threads may still wait; nothing is left to flush
}

}  // namespace signalbox::app
