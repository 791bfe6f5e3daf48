// signalbox-mock: an OpenAI- and Anthropic-compatible test upstream (see
// tools/mock/README.md).
//
// main() parses the flags, binds, prints the one "listening" JSON line tests wait for,
// and serves until SIGTERM or SIGINT, then exits 0. Signals are taken by a dedicated
// thread with sigwait(), so Stop() runs as ordinary code, not in a signal handler.
#include <pthread.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "common/json_writer.h"
#include "mock/mock_options.h"
#include "mock/mock_server.h"

#if defined(__SANITIZE_THREAD__)
// libcpp-httplib.so is not instrumented: TSan sees its allocations and memcmp calls but
// not the synchronisation around them (e.g. the inline fast path of a function-local
// static), and reports races inside the library between its own workers. Builds with
// SIGNALBOX_SANITIZE=thread run the mock under TSAN_OPTIONS=halt_on_error=1, so such
// a report would kill it mid-test.
extern "C" const char* __tsan_default_suppressions() { return "race:libcpp-httplib.so\n"; }
#endif

namespace {

// How long a stop may take before the process exits anyway: streams and waits notice
// the stop within 50 ms, so only a wedged worker can reach it.
constexpr std::chrono::seconds kStopGrace{10};

std::string ListeningLine(const std::string& host, int port, const std::string& model) {
  std::string address = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::string line;
  signalbox::JsonWriter w(line);
  w.BeginObject().Field("event", "listening");
  w.Field("address", address + ":" + std::to_string(port)).Field("model", model).EndObject();
  return line;
}

}  // namespace

int main(int argc, char** argv) {
  using signalbox::mock::MockServer;
  std::signal(SIGPIPE, SIG_IGN);
  auto options = signalbox::mock::ParseMockOptions(std::vector<std::string>(argv + 1, argv + argc));
  if (!options.ok()) {
    std::fprintf(stderr, "signalbox-mock: %s\n\n%s", options.status().message().c_str(),
                 signalbox::mock::MockUsage());
    return 2;
  }
  if (options->help) {
    std::fputs(signalbox::mock::MockUsage(), stdout);
    return 0;
  }

  // Block the stop signals before any thread starts, so every thread inherits the mask
  // and only sigwait() below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  MockServer server(*options);
  auto port = server.Bind();
  if (!port.ok()) {
    std::fprintf(stderr, "signalbox-mock: %s\n", port.status().message().c_str());
    return 1;
  }
  std::printf("%s\n", ListeningLine(options->host, *port, options->model).c_str());
  std::fflush(stdout);

  std::promise<void> run_done;
  std::future<void> run_done_future = run_done.get_future();
  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    server.Stop();
    if (run_done_future.wait_for(kStopGrace) != std::future_status::ready) {
      std::fprintf(stderr, "signalbox-mock: workers did not stop in time; exiting\n");
      _exit(0);
    }
  });
  server.Run();
  run_done.set_value();
  // Wake the signal thread if Run() ended without a signal (it then finds Stop() done).
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  return 0;
}
