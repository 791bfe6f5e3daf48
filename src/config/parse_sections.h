// Section parsers of the config loader (internal to config/). Each reads one top-level
// section into the Config and reports problems through the YamlReader.
#pragma once

#include <yaml-cpp/yaml.h>

#include "config/config.h"
#include "config/yaml_reader.h"

namespace signalbox::config_internal {

void ParseServer(YamlReader& r, const YAML::Node& n, SourcePos parent, ServerConfig* out);
void ParseBackends(YamlReader& r, const YAML::Node& n, SourcePos parent,
                   std::vector<BackendConfig>* out);
void ParseClassifier(YamlReader& r, const YAML::Node& n, SourcePos parent, ClassifierConfig* out);
void ParseBudgets(YamlReader& r, const YAML::Node& n, SourcePos parent, BudgetsConfig* out);
void ParseCluster(YamlReader& r, const YAML::Node& n, SourcePos parent, ClusterConfig* out);
void ParseRouter(YamlReader& r, const YAML::Node& n, SourcePos parent, RouterConfig* out);

// Cross-section checks: rule routes name known backends, `when` names known tiers and
// key ids, virtual model names do not shadow backends, and so on.
void CrossValidate(YamlReader& r, const YAML::Node& root, const Config& cfg);

// The backend's upstream address: `url`, or `deployments` with `balance` and `affinity`
// (parse_deployments.cc). Fills b->deployments (one implicit deployment for `url`).
void ParseEndpoints(YamlReader& r, const YAML::Node& n, const std::string& p, SourcePos pos,
                    BackendConfig* b);
// `headers:` of a backend or a deployment: a map of header names to values.
void ParseUpstreamHeaders(YamlReader& r, const YAML::Node& n, const std::string& p,
                          SourcePos parent, std::vector<std::pair<std::string, std::string>>* out);
bool IsHeaderToken(std::string_view s);

}  // namespace signalbox::config_internal
