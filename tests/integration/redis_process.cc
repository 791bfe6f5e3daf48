#include "integration/redis_process.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

namespace signalbox::testing {
namespace {

// A port nothing listens on now (redis-server cannot bind port 0 and report it).
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

const char* kRedisServer = "/usr/bin/redis-server";

}  // namespace

bool RedisAvailable() { return std::filesystem::exists(kRedisServer); }

StatusOr<cluster::RedisValue> RunningRedis::Command(const std::vector<std::string>& argv) const {
  cluster::RedisClient c({"127.0.0.1", port, 0, "", std::chrono::milliseconds(5000)});
  return c.Call(argv);
}

int RunningRedis::Stop() {
  if (!process) return -1;
  process->Signal(SIGTERM);
  int rc = process->Wait();
  process.reset();
  return rc;
}

StatusOr<RunningRedis> StartRedis(const std::string& dir, int port) {
  std::filesystem::create_directories(dir);
  // A port freed by FreePort() may be taken again before redis binds it: try a few.
  for (int attempt = 0; attempt < 5; ++attempt) {
    RunningRedis r;
    r.port = port != 0 ? port : FreePort();
    r.dir = dir;
    ProcessOptions po;
    po.argv = {kRedisServer,
               "--port",
               std::to_string(r.port),
               "--bind",
               "127.0.0.1",
               "--dir",
               dir,
               "--save",
               "",
               "--appendonly",
               "yes",
               "--appendfsync",
               "everysec",
               "--daemonize",
               "no",
               "--loglevel",
               "notice",
               "--protected-mode",
               "no"};
    auto p = Process::Start(po);
    if (!p.ok()) return p.status();
    auto line = (*p)->WaitForLine(
        [](const std::string& l) {
          return l.find("Ready to accept connections") != std::string::npos ||
                 l.find("Address already in use") != std::string::npos;
        },
        std::chrono::seconds(10));
    if (line && line->find("Ready to accept") != std::string::npos) {
      r.process = std::move(p).value();
      return r;
    }
    if (port != 0 || !line) {
      return Internal("redis-server did not start:\n" + (*p)->Output());
    }
  }
  return Internal("redis-server: no free port");
}

}  // namespace signalbox::testing
