// What sharing budgets and limits through Redis costs per request, against one process:
// the admission and settle of one request of a key with a budget and rpm/tpm/max_parallel,
// done by budget::LocalRateLimiter (single-process mode: limits in memory, the budget by
// the SpendTracker's own lock) and by cluster::ClusterState (one EVALSHA to admit, one to
// settle) against a real redis-server it starts on a free port.
//
//   build/bench/cluster_bench [requests=20000] [threads=8]
//
// Prints both costs per request and their ratio in one run (bench/README.md).
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "budget/rate_limiter.h"
#include "budget/spend_tracker.h"
#include "cluster/cluster_state.h"
#include "common/log.h"

extern char** environ;

namespace {

using namespace signalbox;

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// Runs `fn(i)` for i in [0, n) on `threads` threads; returns seconds of wall time.
template <typename Fn>
double Run(int n, int threads, Fn fn) {
  std::atomic<int> next{0};
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      for (int i = next++; i < n; i = next++) fn(i);
    });
  }
  for (auto& t : ts) t.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 8;
  const int port = FreePort();
  const std::string port_s = std::to_string(port);
  char dir[] = "/tmp/cluster_bench-XXXXXX";
  if (mkdtemp(dir) == nullptr) return 1;
  // As deploy/ runs it: append-only file, fsync every second.
  const char* rargv[] = {
      "redis-server", "--port", port_s.c_str(),  "--bind",   "127.0.0.1", "--save", "",
      "--appendonly", "yes",    "--appendfsync", "everysec", "--dir",     dir,      nullptr};
  pid_t pid = 0;
  posix_spawn_file_actions_t quiet;  // redis-server's log would bury the result
  posix_spawn_file_actions_init(&quiet);
  posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
  if (posix_spawnp(&pid, "redis-server", &quiet, nullptr, const_cast<char**>(rargv), environ) !=
      0) {
    std::fprintf(stderr, "cluster_bench: cannot start redis-server (scripts/install-deps)\n");
    return 1;
  }
  const Clock& clock = Clock::Real();
  auto tracker = budget::SpendTracker::Create(nullptr, clock);
  cluster::ClusterOptions co;
  co.endpoint = {"127.0.0.1", port, 0, "", std::chrono::milliseconds(1000)};
  co.replica_id = "bench";
  cluster::RedisClient probe(co.endpoint);
  for (int i = 0; i < 200 && !probe.Call({"PING"}).ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // until it listens
  }
  SetLogLevel(LogLevel::kWarn);
  cluster::ClusterState cs(co, tracker->get(), clock);
  cs.Start();
  if (!cs.up()) {
    std::fprintf(stderr, "cluster_bench: redis-server did not answer\n");
    kill(pid, SIGKILL);
    return 1;
  }
  const budget::RateLimits rate{1'000'000'000, 1'000'000'000'000, 10'000};
  const budget::BudgetLimits money{1e6, 1e7};

  budget::LocalRateLimiter local(clock);
  double local_s = Run(n, threads, [&](int i) {
    const std::string key = "key-" + std::to_string(i % 16);
    auto res = (*tracker)->Reserve(key, money, 0.001);
    budget::Admitted a = local.Admit(key, rate, 700);
    a.ticket.Finish(650);
  });
  double redis_s = Run(n, threads, [&](int i) {
    const std::string key = "key-" + std::to_string(i % 16);
    cluster::ClusterAdmission a = cs.Admit(key, rate, money, 700, 0.001);
    cs.Settle(a.ticket, key, 650, {{"small", 900'000}});
  });
  const double local_us = local_s * 1e6 / n, redis_us = redis_s * 1e6 / n;
  std::printf("requests %d, threads %d\n", n, threads);
  std::printf("single process: %.2f us/request (%.0f requests/s)\n", local_us, n / local_s);
  std::printf("redis (admit + settle, 2 round trips): %.2f us/request (%.0f requests/s)\n",
              redis_us, n / redis_s);
  std::printf("ratio redis / single process: %.1fx; local admissions during the run: %lld\n",
              redis_us / local_us, static_cast<long long>(cs.local_admissions()));
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  std::system((std::string("rm -rf ") + dir).c_str());
  return 0;
}
