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

}  // namespace signalbox::config_internal
