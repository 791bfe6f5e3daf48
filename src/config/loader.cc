#include "config/loader.h"

#include <fmt/format.h>
#include <openssl/sha.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "config/parse_sections.h"
#include "config/yaml_reader.h"

namespace signalbox {

using config_internal::CrossValidate;
using config_internal::ParseBackends;
using config_internal::ParseBudgets;
using config_internal::ParseClassifier;
using config_internal::ParseCluster;
using config_internal::ParseRouter;
using config_internal::ParseServer;

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  std::string hex;
  hex.reserve(2 * SHA256_DIGEST_LENGTH);
  for (unsigned char b : digest) fmt::format_to(std::back_inserter(hex), "{:02x}", b);
  return hex;
}

namespace {

constexpr size_t kMaxConfigBytes = 4u << 20;

LoadResult Finish(YamlReader& r, Config cfg) {
  LoadResult res;
  res.errors = r.errors();
  res.warnings = r.warnings();
  if (res.errors.empty()) res.config = std::move(cfg);
  return res;
}

}  // namespace

LoadResult LoadConfigText(std::string_view text, const std::string& file_label,
                          const EnvLookup& env) {
  YamlReader r(file_label, env);
  Config cfg;
  cfg.path = file_label;
  cfg.content_hash = Sha256Hex(text);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    // yaml-cpp's marks are 0-based; its message text already has its own prefix.
    SourcePos pos{e.mark.is_null() ? 1 : e.mark.line + 1, e.mark.is_null() ? 1 : e.mark.column + 1};
    r.Error(pos, "", "YAML syntax error: " + e.msg);
    return Finish(r, std::move(cfg));
  }
  if (!root.IsDefined() || root.IsNull()) {
    r.Error({1, 1}, "", "the config is empty (it needs at least backends and router)");
    return Finish(r, std::move(cfg));
  }
  try {
    SourcePos top{1, 1};
    if (!r.ExpectMap(root, "", top,
                     {"server", "backends", "classifier", "budgets", "cluster", "router"})) {
      return Finish(r, std::move(cfg));
    }
    if (root["server"].IsDefined() && !root["server"].IsNull()) {
      ParseServer(r, root["server"], top, &cfg.server);
    }
    if (!root["backends"].IsDefined() || root["backends"].IsNull()) {
      r.Error(top, "backends", "is required: list at least one backend");
    } else {
      ParseBackends(r, root["backends"], top, &cfg.backends);
    }
    if (root["classifier"].IsDefined() && !root["classifier"].IsNull()) {
      ParseClassifier(r, root["classifier"], top, &cfg.classifier);
    }
    if (root["budgets"].IsDefined() && !root["budgets"].IsNull()) {
      cfg.has_budgets = true;
      ParseBudgets(r, root["budgets"], top, &cfg.budgets);
    } else {
      // The ledger still records spend without a budgets section.
      auto def = ExpandEnv("${SIGNALBOX_STATE_DIR:-./state}/ledger.db", env);
      if (def.ok()) cfg.budgets.ledger_path = *def;
    }
    if (root["cluster"].IsDefined() && !root["cluster"].IsNull()) {
      ParseCluster(r, root["cluster"], top, &cfg.cluster);
    }
    if (!root["router"].IsDefined() || root["router"].IsNull()) {
      r.Error(top, "router", "is required: it needs at least one rule");
    } else {
      ParseRouter(r, root["router"], top, &cfg.router);
    }
    // Cross-section checks run even after other errors: every problem is reported at once.
    CrossValidate(r, root, cfg);
  } catch (const YAML::Exception& e) {
    SourcePos pos{e.mark.is_null() ? 1 : e.mark.line + 1, e.mark.is_null() ? 1 : e.mark.column + 1};
    r.Error(pos, "", "invalid structure: " + e.msg);
  }
  return Finish(r, std::move(cfg));
}

void AddProblems(LoadResult* r, std::string_view file_label,
                 const std::vector<ConfigProblem>& problems) {
  for (const ConfigProblem& p : problems) {
    r->errors.push_back(fmt::format("{}:{}:{}: {}{}{}", file_label, p.pos.line, p.pos.col, p.path,
                                    p.path.empty() ? "" : ": ", p.message));
  }
  if (!r->errors.empty()) r->config.reset();
}

LoadResult LoadConfigFile(const std::string& path, const EnvLookup& env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult res;
    res.errors.push_back(fmt::format("{}:1:1: cannot read the config file", path));
    return res;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() > kMaxConfigBytes) {
    LoadResult res;
    res.errors.push_back(
        fmt::format("{}:1:1: the config file is larger than {} bytes", path, kMaxConfigBytes));
    return res;
  }
  return LoadConfigText(text, path, env);
}

}  // namespace signalbox
