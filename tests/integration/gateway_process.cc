#include "integration/gateway_process.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace signalbox::testing {

RunningGateway::~RunningGateway() {
  process.reset();
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
}

std::unique_ptr<httplib::Client> RunningGateway::Client(std::chrono::seconds read_timeout) const {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", port);
  c->set_read_timeout(read_timeout);
  c->set_connection_timeout(std::chrono::seconds(5));
  c->set_keep_alive(true);
  return c;
}

std::vector<nlohmann::json> RunningGateway::AccessLog() const {
  std::vector<nlohmann::json> out;
  for (const auto& line : process->Lines(OutputStream::kStdout)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("request_id")) out.push_back(std::move(j));
  }
  return out;
}

std::optional<nlohmann::json> RunningGateway::WaitForAccess(
    const std::function<bool(const nlohmann::json&)>& pred,
    std::chrono::milliseconds timeout) const {
  auto line = process->WaitForLine(
      [&](const std::string& l) {
        auto j = nlohmann::json::parse(l, nullptr, false);
        return j.is_object() && j.contains("request_id") && pred(j);
      },
      timeout, OutputStream::kStdout);
  if (!line) return std::nullopt;
  return nlohmann::json::parse(*line);
}

bool RunningGateway::WaitForLog(const std::string& text, std::chrono::milliseconds timeout) const {
  return process
      ->WaitForLine(
          [&](const std::string& l) {
            auto j = nlohmann::json::parse(l, nullptr, false);
            return j.is_object() && j.value("msg", "").find(text) != std::string::npos;
          },
          timeout, OutputStream::kStderr)
      .has_value();
}

namespace {

std::string ExpandState(std::string yaml, const std::string& dir) {
  for (size_t p; (p = yaml.find("{STATE}")) != std::string::npos;) yaml.replace(p, 7, dir);
  return yaml;
}

}  // namespace

void RunningGateway::WriteConfig(const std::string& yaml) const {
  std::string tmp = config_path + ".tmp";
  std::ofstream(tmp) << ExpandState(yaml, dir);
  std::filesystem::rename(tmp, config_path);
}

StatusOr<RunningGateway> StartGateway(const GatewayOptions& options,
                                      std::chrono::milliseconds timeout) {
  RunningGateway gw;
  char tmpl[] = "/tmp/signalbox-test-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return Internal("mkdtemp failed");
  gw.dir = tmpl;
  gw.config_path = gw.dir + "/config.yaml";
  std::ofstream(gw.config_path) << ExpandState(options.config_yaml, gw.dir);
  ProcessOptions po;
  po.argv = {SIGNALBOX_BIN, "serve", "--config", gw.config_path, "--listen", "127.0.0.1:0"};
  po.argv.insert(po.argv.end(), options.extra_args.begin(), options.extra_args.end());
  po.env = options.env;
  po.env.emplace_back("SIGNALBOX_STATE_DIR", gw.dir + "/state");
  auto proc = Process::Start(po);
  if (!proc.ok()) return proc.status();
  gw.process = std::move(proc).value();
  auto line = gw.process->WaitForLine(
      [](const std::string& l) { return l.find("\"msg\":\"listening\"") != std::string::npos; },
      timeout, OutputStream::kStderr);
  if (!line) return Internal("the gateway did not start:\n" + gw.process->Output());
  auto j = nlohmann::json::parse(*line, nullptr, false);
  std::string addr = j.value("address", "");
  gw.port = std::atoi(addr.substr(addr.rfind(':') + 1).c_str());
  if (gw.port <= 0) return Internal("no port in: " + *line);
  return gw;
}

std::string TwoBackendConfig(const RunningMock& small, const RunningMock& large,
                             const std::string& server_extra, const std::string& backend_extra,
                             const std::string& rules) {
  std::string r = rules.empty() ? R"(    - name: tools
      when: {has_tools: true}
      route: [large, small]
    - name: default
      route: [small, large]
)"
                                : rules;
  return fmt::format(R"(server:
  listen: 127.0.0.1:0
{}
backends:
  - name: small
    url: {}/v1
    model: small-model
    price: {{input_per_mtok: 0.10, output_per_mtok: 0.30}}
{}
  - name: large
    url: {}/v1
    model: large-model
    price: {{input_per_mtok: 2.50, output_per_mtok: 10.00}}
{}
budgets:
  ledger_path: {{STATE}}/ledger.db
router:
  rules:
{})",
                     server_extra, small.BaseUrl(), backend_extra, large.BaseUrl(), backend_extra,
                     r);
}

std::string ChatBody(const std::string& content, bool stream, const std::string& extra) {
  nlohmann::json j = {{"model", "auto"}, {"messages", {{{"role", "user"}, {"content", content}}}}};
  if (stream) j["stream"] = true;
  std::string s = j.dump();
  if (!extra.empty()) s.insert(s.size() - 1, "," + extra);
  return s;
}

}  // namespace signalbox::testing
