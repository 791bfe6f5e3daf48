// Starting a real redis-server (Debian's package, installed by scripts/install-deps) from
// an integration test, on a free port, with its data in a directory the test chooses, so
// that it can be stopped and started again with or without its data.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "cluster/redis_client.h"
#include "common/status.h"
#include "integration/process.h"

namespace signalbox::testing {

// A running redis-server. Destroying it kills the process (its directory stays: the
// caller owns it).
struct RunningRedis {
  std::unique_ptr<Process> process;
  int port = 0;
  std::string dir;
  std::string Url() const { return "redis://127.0.0.1:" + std::to_string(port) + "/0"; }
  // A client for checks from the test (one command at a time).
  StatusOr<cluster::RedisValue> Command(const std::vector<std::string>& argv) const;
  // SIGTERM and wait: with AOF on, everything written is on disk when it returns.
  int Stop();
};

// Starts redis-server on `port` (0: a free one), append-only file in `dir` (persistence
// as in deploy/: appendonly yes, appendfsync everysec), no RDB snapshots.
StatusOr<RunningRedis> StartRedis(const std::string& dir, int port = 0);

// Whether redis-server can be run here.
bool RedisAvailable();

}  // namespace signalbox::testing
