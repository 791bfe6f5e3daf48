// deploy/: every YAML file parses; the gateway configs embedded in the Kubernetes
// ConfigMap and used by docker-compose pass the gateway's own validation with exactly the
// environment those manifests provide; and the manifests agree with each other and with
// the config (ports, probe paths, mounts, drain vs grace period, secret keys, scrape
// targets, Dockerfile stages and packages). Docker and a cluster are not needed.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/loader.h"
#include "config/units.h"

namespace fs = std::filesystem;
using signalbox::LoadConfigText;
using signalbox::LoadResult;

namespace {

const fs::path kDeploy = fs::path(SIGNALBOX_SOURCE_DIR) / "deploy";

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  INFO(p);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<fs::path> YamlFiles(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    auto ext = e.path().extension();
    if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml")) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Every document of every YAML file in deploy/kubernetes.
std::vector<YAML::Node> KubeDocs() {
  std::vector<YAML::Node> out;
  for (const auto& p : YamlFiles(kDeploy / "kubernetes")) {
    for (auto& d : YAML::LoadAllFromFile(p.string())) {
      if (d.IsMap() && d["kind"]) out.push_back(d);
    }
  }
  return out;
}

YAML::Node Find(const std::vector<YAML::Node>& docs, const std::string& kind,
                const std::string& name = "") {
  for (const auto& d : docs) {
    if (d["kind"].as<std::string>() == kind &&
        (name.empty() || d["metadata"]["name"].as<std::string>() == name)) {
      return d;
    }
  }
  FAIL("no " << kind << " " << name << " in deploy/kubernetes");
  return {};
}

std::string Dirname(const std::string& p) { return fs::path(p).parent_path().string(); }
std::string Basename(const std::string& p) { return fs::path(p).filename().string(); }

// Loads `text` with an environment that holds exactly `env`; every error is printed.
LoadResult LoadWithEnv(const std::string& text, const std::string& label,
                       const std::map<std::string, std::string>& env) {
  LoadResult r =
      LoadConfigText(text, label, [&env](const std::string& name) -> std::optional<std::string> {
        auto it = env.find(name);
        if (it == env.end()) return std::nullopt;
        return it->second;
      });
  std::string all;
  for (const auto& e : r.errors) all += e + "\n";
  INFO(label << " errors:\n" << all);
  CHECK(r.errors.empty());
  REQUIRE(r.config.has_value());
  return r;
}

int ListenPort(const std::string& listen) {
  std::string host;
  int port = 0;
  REQUIRE(signalbox::SplitHostPort(listen, &host, &port));
  return port;
}

// Seconds of a compose duration such as "30s", "1m30s".
int ComposeSeconds(const std::string& s) {
  int total = 0;
  const std::regex part_re(R"((\d+)(h|m|s))");
  for (std::sregex_iterator it(s.begin(), s.end(), part_re), end; it != end; ++it) {
    int n = std::stoi((*it)[1]);
    total += (*it)[2] == "h" ? n * 3600 : (*it)[2] == "m" ? n * 60 : n;
  }
  return total;
}

// What compose makes of `${VAR:-default}` when VAR is unset (the demo defaults).
std::string ComposeValue(const std::string& v) {
  static const std::regex default_re(R"(\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\})");
  std::smatch m;
  if (std::regex_match(v, m, default_re)) return m[1];
  REQUIRE(v.find("${") == std::string::npos);  // a required host variable: not for a demo
  return v;
}

// A service of docker-compose.yml, with `<<: *anchor` merged in whichever way yaml-cpp
// presents it.
YAML::Node Service(const YAML::Node& compose, const std::string& name) {
  YAML::Node s = compose["services"][name];
  INFO("compose service " << name);
  REQUIRE(s.IsMap());
  return s;
}

YAML::Node ServiceField(const YAML::Node& service, const std::string& key) {
  if (service[key]) return service[key];
  if (service["<<"] && service["<<"][key]) return service["<<"][key];
  return YAML::Node();
}

// The Dockerfile as logical instructions (continuations joined, comments dropped).
std::vector<std::string> DockerInstructions() {
  std::istringstream in(ReadFile(kDeploy / "Dockerfile"));
  std::vector<std::string> out;
  std::string cur;
  for (std::string line; std::getline(in, line);) {
    std::string t = line.substr(line.find_first_not_of(" \t") == std::string::npos
                                    ? line.size()
                                    : line.find_first_not_of(" \t"));
    if (t.empty() || t[0] == '#') continue;
    if (!t.empty() && t.back() == '\\') {
      cur += t.substr(0, t.size() - 1) + " ";
      continue;
    }
    out.push_back(cur + t);
    cur.clear();
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// Packages listed in scripts/install-deps's PKGS=( ... ).
std::set<std::string> InstallDepsPackages() {
  std::string s = ReadFile(fs::path(SIGNALBOX_SOURCE_DIR) / "scripts" / "install-deps");
  size_t a = s.find("PKGS=(");
  REQUIRE(a != std::string::npos);
  size_t b = s.find(')', a);
  std::istringstream in(s.substr(a + 6, b - a - 6));
  std::set<std::string> out;
  for (std::string w; in >> w;) out.insert(w);
  return out;
}

}  // namespace

TEST_CASE(
    "Kubernetes: 2+ replicas share Redis, roll without losing capacity, keep one through "
    "disruptions, and Redis keeps an append-only file",
    "[deploy][cluster]") {
  auto docs = KubeDocs();
  YAML::Node dep = Find(docs, "Deployment", "signalbox");
  CHECK(dep["spec"]["replicas"].as<int>() >= 2);
  CHECK(dep["spec"]["strategy"]["type"].as<std::string>() == "RollingUpdate");
  CHECK(dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"].as<int>() == 0);
  CHECK(dep["spec"]["strategy"]["rollingUpdate"]["maxSurge"].as<int>() >= 1);
  YAML::Node c = dep["spec"]["template"]["spec"]["containers"][0];
  CHECK(c["readinessProbe"]["httpGet"]["path"].as<std::string>() == "/readyz");
  // The PodDisruptionBudget selects the gateway pods and leaves at least one.
  YAML::Node pdb = Find(docs, "PodDisruptionBudget", "signalbox");
  CHECK(pdb["spec"]["minAvailable"].as<int>() >= 1);
  CHECK(pdb["spec"]["minAvailable"].as<int>() < dep["spec"]["replicas"].as<int>());
  for (const auto& kv : pdb["spec"]["selector"]["matchLabels"]) {
    CHECK(dep["spec"]["template"]["metadata"]["labels"][kv.first.as<std::string>()].as<std::string>(
              "") == kv.second.as<std::string>());
  }
  // REDIS_URL points at the Redis Service, on its port.
  std::string redis_url;
  for (const auto& e : c["env"]) {
    if (e["name"].as<std::string>() == "REDIS_URL") redis_url = e["value"].as<std::string>("");
  }
  YAML::Node svc = Find(docs, "Service", "signalbox-redis");
  const std::string port = std::to_string(svc["spec"]["ports"][0]["port"].as<int>());
  CHECK(redis_url == "redis://signalbox-redis:" + port + "/0");
  YAML::Node redis = Find(docs, "StatefulSet", "signalbox-redis");
  for (const auto& kv : svc["spec"]["selector"]) {
    CHECK(
        redis["spec"]["template"]["metadata"]["labels"][kv.first.as<std::string>()].as<std::string>(
            "") == kv.second.as<std::string>());
  }
  std::vector<std::string> args;
  for (const auto& a : redis["spec"]["template"]["spec"]["containers"][0]["args"]) {
    args.push_back(a.as<std::string>());
  }
  auto arg = [&](const std::string& flag) {
    auto it = std::find(args.begin(), args.end(), flag);
    return it == args.end() || it + 1 == args.end() ? std::string() : *(it + 1);
  };
  CHECK(arg("--appendonly") == "yes");
  CHECK(arg("--dir") == "/data");
  bool data_on_claim = false;
  for (const auto& m : redis["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]) {
    if (m["mountPath"].as<std::string>() != "/data") continue;
    for (const auto& t : redis["spec"]["volumeClaimTemplates"]) {
      data_on_claim |= t["metadata"]["name"].as<std::string>() == m["name"].as<std::string>();
    }
  }
  CHECK(data_on_claim);
  // The ConfigMap's config uses it.
  YAML::Node cm = Find(docs, "ConfigMap", "signalbox-config");
  CHECK(cm["data"]["signalbox.yaml"].as<std::string>().find("redis: ${REDIS_URL}") !=
        std::string::npos);
}

TEST_CASE("every YAML file under deploy/ parses", "[deploy]") {
  auto files = YamlFiles(kDeploy);
  CHECK(files.size() >= 10);
  for (const auto& p : files) {
    INFO(p);
    std::vector<YAML::Node> docs;
    CHECK_NOTHROW(docs = YAML::LoadAllFromFile(p.string()));
    CHECK(!docs.empty());
    for (const auto& d : docs) CHECK(d.IsMap());
  }
}

TEST_CASE(
    "Kubernetes: the ConfigMap's config passes the gateway's validation with the Deployment's env, "
    "and the manifests agree with it",
    "[deploy]") {
  auto docs = KubeDocs();
  YAML::Node dep = Find(docs, "Deployment", "signalbox");
  YAML::Node pod = dep["spec"]["template"]["spec"];
  REQUIRE(pod["containers"].size() == 1);
  YAML::Node c = pod["containers"][0];

  // The environment the container gets: literal values, and secrets (dummy values here).
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> secret_keys;  // env name -> secret key
  std::string secret_name;
  for (const auto& e : c["env"]) {
    std::string name = e["name"].as<std::string>();
    if (e["value"]) {
      env[name] = e["value"].as<std::string>();
    } else if (e["valueFrom"]["fieldRef"]) {
      env[name] = "pod-field-" + name;
    } else {
      YAML::Node ref = e["valueFrom"]["secretKeyRef"];
      REQUIRE(ref);
      env[name] = "dummy-secret-for-" + name;
      secret_keys[name] = ref["key"].as<std::string>();
      if (secret_name.empty()) secret_name = ref["name"].as<std::string>();
      CHECK(ref["name"].as<std::string>() == secret_name);
    }
  }
  // The config file: a ConfigMap key, mounted as a directory (no subPath).
  REQUIRE(env.count("SIGNALBOX_CONFIG") == 1);
  const std::string config_path = env["SIGNALBOX_CONFIG"];
  std::string config_volume;
  for (const auto& m : c["volumeMounts"]) {
    if (m["mountPath"].as<std::string>() == Dirname(config_path)) {
      config_volume = m["name"].as<std::string>();
      CHECK(!m["subPath"]);  // a subPath mount never sees ConfigMap updates: hot reload would stop
      CHECK(m["readOnly"].as<bool>(false));
    }
  }
  REQUIRE(!config_volume.empty());
  std::string configmap_name;
  for (const auto& v : pod["volumes"]) {
    if (v["name"].as<std::string>() == config_volume) {
      REQUIRE(v["configMap"]);
      configmap_name = v["configMap"]["name"].as<std::string>();
      CHECK(!v["configMap"]["items"]);
    }
  }
  YAML::Node cm = Find(docs, "ConfigMap", configmap_name);
  REQUIRE(cm["data"][Basename(config_path)]);
  auto loaded = LoadWithEnv(cm["data"][Basename(config_path)].as<std::string>(),
                            "configmap/" + Basename(config_path), env);
  const auto& cfg = *loaded.config;
  // It validated with exactly the Deployment's env, so no variable it needs is missing.
  CHECK(!cfg.server.admin_token.empty());  // production: /admin/* must not be open

  // Port, probes.
  int port = ListenPort(cfg.server.listen);
  int container_port = 0;
  std::string port_name;
  for (const auto& p : c["ports"]) {
    container_port = p["containerPort"].as<int>();
    port_name = p["name"].as<std::string>();
  }
  CHECK(container_port == port);
  CHECK(c["readinessProbe"]["httpGet"]["path"].as<std::string>() == "/readyz");
  CHECK(c["livenessProbe"]["httpGet"]["path"].as<std::string>() == "/livez");
  for (const char* probe : {"readinessProbe", "livenessProbe", "startupProbe"}) {
    if (!c[probe]) continue;
    std::string p = c[probe]["httpGet"]["port"].as<std::string>();
    CHECK((p == port_name || p == std::to_string(port)));
  }

  // Drain: the grace period covers preStop plus server.timeouts.drain.
  int prestop_s = 0;
  if (c["lifecycle"]["preStop"]["exec"]) {
    auto cmd = c["lifecycle"]["preStop"]["exec"]["command"];
    REQUIRE(cmd.size() == 2);
    CHECK(cmd[0].as<std::string>() == "sleep");
    prestop_s = std::stoi(cmd[1].as<std::string>());
  }
  int grace = pod["terminationGracePeriodSeconds"].as<int>(30);
  auto drain_s =
      std::chrono::duration_cast<std::chrono::seconds>(cfg.server.timeouts.drain).count();
  CHECK(grace > prestop_s + drain_s);

  // Security: non-root numeric user, read-only root, the ledger on a writable volume.
  CHECK(pod["securityContext"]["runAsNonRoot"].as<bool>(false));
  CHECK(pod["securityContext"]["runAsUser"].as<int>(0) > 0);
  CHECK(c["securityContext"]["readOnlyRootFilesystem"].as<bool>(false));
  CHECK_FALSE(c["securityContext"]["allowPrivilegeEscalation"].as<bool>(true));
  const std::string ledger_dir = Dirname(cfg.budgets.ledger_path);
  bool ledger_mounted = false;
  for (const auto& m : c["volumeMounts"]) {
    if (m["mountPath"].as<std::string>() != ledger_dir) continue;
    CHECK_FALSE(m["readOnly"].as<bool>(false));
    for (const auto& v : pod["volumes"]) {
      if (v["name"].as<std::string>() == m["name"].as<std::string>()) {
        ledger_mounted = v["emptyDir"] || v["persistentVolumeClaim"];
        if (v["persistentVolumeClaim"]) {
          YAML::Node pvc = Find(docs, "PersistentVolumeClaim",
                                v["persistentVolumeClaim"]["claimName"].as<std::string>());
          const std::string mode = pvc["spec"]["accessModes"][0].as<std::string>();
          if (dep["spec"]["replicas"].as<int>(1) > 1 ||
              dep["spec"]["strategy"]["type"].as<std::string>() != "Recreate") {
            // Several pods (or a surge pod) mount it: ReadWriteMany, and each pod writes
            // its own ledger directory, never another's.
            CHECK(mode == "ReadWriteMany");
            CHECK(m["subPathExpr"].as<std::string>("") == "$(POD_NAME)");
          } else {
            CHECK(mode == "ReadWriteOnce");
          }
        }
      }
    }
  }
  CHECK(ledger_mounted);
  if (env.count("SIGNALBOX_STATE_DIR")) CHECK(env["SIGNALBOX_STATE_DIR"] == ledger_dir);

  // The example Secret holds every key the Deployment reads.
  YAML::Node secret = YAML::LoadFile((kDeploy / "kubernetes" / "secret.example.yaml").string());
  CHECK(secret["metadata"]["name"].as<std::string>() == secret_name);
  for (const auto& [var, key] : secret_keys) {
    INFO(var << " <- " << secret_name << "/" << key);
    CHECK(secret["stringData"][key]);
  }

  // Service -> pods, ServiceMonitor -> Service.
  YAML::Node svc = Find(docs, "Service", "signalbox");
  for (const auto& kv : svc["spec"]["selector"]) {
    CHECK(dep["spec"]["template"]["metadata"]["labels"][kv.first.as<std::string>()].as<std::string>(
              "") == kv.second.as<std::string>());
  }
  std::set<std::string> svc_ports;
  for (const auto& p : svc["spec"]["ports"]) {
    svc_ports.insert(p["name"].as<std::string>());
    std::string target = p["targetPort"].as<std::string>();
    CHECK((target == port_name || target == std::to_string(port)));
  }
  YAML::Node sm = Find(docs, "ServiceMonitor", "signalbox");
  for (const auto& kv : sm["spec"]["selector"]["matchLabels"]) {
    CHECK(svc["metadata"]["labels"][kv.first.as<std::string>()].as<std::string>("") ==
          kv.second.as<std::string>());
  }
  REQUIRE(sm["spec"]["endpoints"].size() >= 1);
  for (const auto& ep : sm["spec"]["endpoints"]) {
    CHECK(svc_ports.count(ep["port"].as<std::string>()) == 1);
    CHECK(ep["path"].as<std::string>("/metrics") == "/metrics");
  }

  // kustomization.yaml lists files that exist, and never the example Secret.
  YAML::Node k = YAML::LoadFile((kDeploy / "kubernetes" / "kustomization.yaml").string());
  for (const auto& r : k["resources"]) {
    std::string f = r.as<std::string>();
    INFO(f);
    CHECK(fs::exists(kDeploy / "kubernetes" / f));
    CHECK(f.find("secret") == std::string::npos);
  }
}

TEST_CASE(
    "docker-compose: the gateway config passes validation with the compose environment, and the "
    "services, Prometheus and Grafana files point at each other",
    "[deploy]") {
  YAML::Node compose = YAML::LoadFile((kDeploy / "docker-compose.yml").string());
  YAML::Node gw = Service(compose, "gateway");
  std::map<std::string, std::string> env;
  for (const auto& kv : gw["environment"])
    env[kv.first.as<std::string>()] = ComposeValue(kv.second.as<std::string>());
  REQUIRE(env.count("SIGNALBOX_CONFIG") == 1);
  const std::string config_path = env["SIGNALBOX_CONFIG"];
  // The config directory is bind-mounted (a directory: single-file bind mounts miss
  // editors' rename-on-save).
  fs::path config_source;
  std::string ledger_volume_target;
  for (const auto& v : gw["volumes"]) {
    std::string spec = v.as<std::string>();
    auto parts =
        spec.substr(0, spec.rfind(":ro") == spec.size() - 3 ? spec.size() - 3 : spec.size());
    std::string source = parts.substr(0, parts.find(':'));
    std::string target = parts.substr(parts.find(':') + 1);
    if (target == Dirname(config_path)) config_source = kDeploy / source;
    if (source.rfind("./", 0) != 0) ledger_volume_target = target;  // a named volume
  }
  REQUIRE(!config_source.empty());
  REQUIRE(fs::is_directory(config_source));
  auto loaded = LoadWithEnv(ReadFile(config_source / Basename(config_path)),
                            "compose/" + Basename(config_path), env);
  const auto& cfg = *loaded.config;
  CHECK(Dirname(cfg.budgets.ledger_path) == ledger_volume_target);
  CHECK(gw["read_only"].as<bool>(false));

  // Published port = the listen port; stop grace > drain.
  int port = ListenPort(cfg.server.listen);
  bool published = false;
  for (const auto& p : gw["ports"]) {
    std::string s = p.as<std::string>();
    published |= s.substr(s.rfind(':') + 1) == std::to_string(port);
  }
  CHECK(published);
  auto drain_s =
      std::chrono::duration_cast<std::chrono::seconds>(cfg.server.timeouts.drain).count();
  CHECK(ComposeSeconds(gw["stop_grace_period"].as<std::string>("10s")) > drain_s);

  // Every backend is a compose service listening where the URL says.
  for (const auto& b : cfg.backends) {
    INFO("backend " << b.name << " " << b.url);
    YAML::Node s = Service(compose, b.host);
    YAML::Node cmd = ServiceField(s, "command");
    REQUIRE(cmd.IsSequence());
    std::string listen;
    for (size_t i = 0; i + 1 < cmd.size(); ++i) {
      if (cmd[i].as<std::string>() == "--listen") listen = cmd[i + 1].as<std::string>();
    }
    CHECK(ListenPort(listen) == b.port);
    CHECK(listen.rfind("0.0.0.0:", 0) == 0);  // reachable from the gateway's container
  }

  // Build targets exist in the Dockerfile.
  std::set<std::string> stages;
  const std::regex from_re(R"(FROM\s+\S+\s+AS\s+(\S+))", std::regex::icase);
  for (const auto& ins : DockerInstructions()) {
    std::smatch m;
    if (std::regex_search(ins, m, from_re)) stages.insert(m[1]);
  }
  for (const char* name : {"gateway", "small", "large"}) {
    YAML::Node build = ServiceField(Service(compose, name), "build");
    REQUIRE(build.IsMap());
    CHECK(stages.count(build["target"].as<std::string>()) == 1);
    CHECK(fs::exists(kDeploy / build["context"].as<std::string>() /
                     build["dockerfile"].as<std::string>()));
  }

  // Prometheus scrapes the gateway service on its listen port.
  YAML::Node prom_svc = Service(compose, "prometheus");
  fs::path prom_dir;
  for (const auto& v : prom_svc["volumes"]) {
    std::string spec = v.as<std::string>();
    if (spec.find(":/etc/prometheus") != std::string::npos)
      prom_dir = kDeploy / spec.substr(0, spec.find(':'));
  }
  REQUIRE(!prom_dir.empty());
  YAML::Node prom = YAML::LoadFile((prom_dir / "prometheus.yml").string());
  bool scraped = false;
  for (const auto& job : prom["scrape_configs"]) {
    for (const auto& sc : job["static_configs"]) {
      for (const auto& t : sc["targets"])
        scraped |= t.as<std::string>() == "gateway:" + std::to_string(port);
    }
    if (job["job_name"].as<std::string>() == "signalbox")
      CHECK(job["metrics_path"].as<std::string>("/metrics") == "/metrics");
  }
  CHECK(scraped);

  // Grafana: the dashboard file is mounted where the provider looks; the datasource is
  // the compose Prometheus.
  YAML::Node graf = Service(compose, "grafana");
  std::string dashboard_target, provisioning_source;
  for (const auto& v : graf["volumes"]) {
    std::string spec = v.as<std::string>();
    std::string source = spec.substr(0, spec.find(':'));
    std::string rest = spec.substr(spec.find(':') + 1);
    std::string target = rest.substr(0, rest.find(':'));
    if (source.ends_with("signalbox.json")) {
      dashboard_target = target;
      CHECK(fs::exists(kDeploy / source));
    }
    if (target == "/etc/grafana/provisioning") provisioning_source = source;
  }
  REQUIRE(!dashboard_target.empty());
  REQUIRE(!provisioning_source.empty());
  YAML::Node providers =
      YAML::LoadFile((kDeploy / provisioning_source / "dashboards" / "signalbox.yml").string());
  CHECK(providers["providers"][0]["options"]["path"].as<std::string>() ==
        Dirname(dashboard_target));
  YAML::Node ds =
      YAML::LoadFile((kDeploy / provisioning_source / "datasources" / "prometheus.yml").string());
  CHECK(ds["datasources"][0]["type"].as<std::string>() == "prometheus");
  CHECK(ds["datasources"][0]["url"].as<std::string>() == "http://prometheus:9090");
}

TEST_CASE(
    "Dockerfile: builds with install-deps packages, runs `signalbox serve` as a numeric non-root "
    "user",
    "[deploy]") {
  auto ins = DockerInstructions();
  auto pkgs = InstallDepsPackages();
  // Split into stages.
  std::vector<std::vector<std::string>> stages;
  std::vector<std::string> names;
  for (const auto& i : ins) {
    if (i.rfind("FROM ", 0) == 0) {
      stages.emplace_back();
      std::smatch m;
      names.push_back(std::regex_search(i, m, std::regex(R"(AS\s+(\S+))", std::regex::icase))
                          ? m[1].str()
                          : "");
    }
    if (!stages.empty()) stages.back().push_back(i);
  }
  REQUIRE(stages.size() >= 2);
  CHECK(names.front() == "build");
  CHECK(names.back() == "gateway");  // the default target
  // Build stage: every apt package is one scripts/install-deps installs.
  bool installs = false;
  for (const auto& i : stages.front()) {
    size_t at = i.find("apt-get install");
    if (at == std::string::npos) continue;
    installs = true;
    std::istringstream words(i.substr(at + 15, i.find("&&", at) - at - 15));
    for (std::string w; words >> w;) {
      if (w[0] == '-') continue;
      INFO("package " << w);
      CHECK(pkgs.count(w) == 1);
    }
  }
  CHECK(installs);
  // Final stage: numeric non-root USER, exec-form ENTRYPOINT signalbox serve, config
  // path, port, state volume.
  std::string user, entrypoint, expose, config_env, volume;
  for (const auto& i : stages.back()) {
    if (i.rfind("USER ", 0) == 0) user = i.substr(5);
    if (i.rfind("ENTRYPOINT ", 0) == 0) entrypoint = i.substr(11);
    if (i.rfind("EXPOSE ", 0) == 0) expose = i.substr(7);
    if (i.rfind("VOLUME ", 0) == 0) volume = i.substr(7);
    if (i.find("SIGNALBOX_CONFIG=") != std::string::npos) config_env = i;
  }
  INFO("USER " << user);
  CHECK(std::regex_match(user, std::regex(R"([1-9][0-9]*(:[0-9]+)?)")));
  auto ep = nlohmann::json::parse(entrypoint, nullptr, false);
  REQUIRE(ep.is_array());  // exec form: signalbox is PID 1 and gets SIGTERM itself
  REQUIRE(ep.size() == 2);
  CHECK(Basename(ep[0].get<std::string>()) == "signalbox");
  CHECK(ep[1] == "serve");
  CHECK(expose == "8080");
  CHECK(config_env.find("SIGNALBOX_CONFIG=/etc/signalbox/signalbox.yaml") != std::string::npos);
  CHECK(volume.find("/var/lib/signalbox") != std::string::npos);
  CHECK(fs::exists(kDeploy / "Dockerfile.dockerignore"));
}

TEST_CASE(
    "docker-compose: two gateway replicas share the redis service, each with its own ledger "
    "volume",
    "[deploy][cluster]") {
  YAML::Node compose = YAML::LoadFile((kDeploy / "docker-compose.yml").string());
  std::set<std::string> ledger_volumes;
  for (const std::string name : {"gateway", "gateway-2"}) {
    YAML::Node gw = Service(compose, name);
    INFO(name);
    CHECK(ComposeValue(gw["environment"]["REDIS_URL"].as<std::string>()) == "redis://redis:6379/0");
    bool depends = false;
    for (const auto& d : gw["depends_on"]) depends |= d.as<std::string>() == "redis";
    CHECK(depends);
    for (const auto& v : gw["volumes"]) {
      std::string spec = v.as<std::string>();
      if (spec.find(":/var/lib/signalbox") != std::string::npos) {
        ledger_volumes.insert(spec.substr(0, spec.find(':')));
      }
    }
  }
  CHECK(ledger_volumes.size() == 2);  // one ledger per replica: one writer per file
  YAML::Node redis = Service(compose, "redis");
  std::vector<std::string> cmd;
  for (const auto& a : redis["command"]) cmd.push_back(a.as<std::string>());
  auto it = std::find(cmd.begin(), cmd.end(), "--appendonly");
  REQUIRE(it != cmd.end());
  CHECK(*(it + 1) == "yes");
  // The compose config enables the cluster from REDIS_URL.
  std::string cfg = ReadFile(kDeploy / "compose" / "signalbox.yaml");
  CHECK(cfg.find("redis: ${REDIS_URL:-}") != std::string::npos);
}
