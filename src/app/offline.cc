#include "app/offline.h"

#include <cstdio>
#include <fstream>
#include <iostream>

#include "routing/request_facts.h"
#include "runtime/config_load.h"

namespace signalbox::app {

std::optional<OfflineRouting> LoadOffline(const Args& args) {
  LoadResult lr = LoadCheckedConfigFile(args.ConfigPath());
  if (!lr.config) {
    for (const auto& e : lr.errors) std::fprintf(stderr, "%s\n", e.c_str());
    return std::nullopt;
  }
  OfflineRouting r;
  r.cfg = std::move(*lr.config);
  r.router = routing::Router::Build(r.cfg);
  return r;
}

void RequestFromPrompt(const std::string& prompt, const Config& cfg, OfflineRequest* out) {
  nlohmann::json doc = {{"model", cfg.router.virtual_models.front()},
                        {"messages", {{{"role", "user"}, {"content", prompt}}}}};
  (void)ParseChatDocument(std::move(doc), &out->req);
}

std::optional<std::string> RequestFromLine(const nlohmann::json& line, const Config& cfg,
                                           OfflineRequest* out) {
  if (!line.is_object()) return "the line is not a JSON object";
  out->id = line.contains("id") ? line["id"] : nlohmann::json(nullptr);
  nlohmann::json doc = nlohmann::json::object();
  auto prompt = line.find("prompt");
  auto messages = line.find("messages");
  Endpoint ep = Endpoint::kChat;
  if (auto body = line.find("body"); body != line.end()) {
    // A whole recorded request body of any API (chat, Responses, Messages).
    if (!body->is_object()) return "\"body\" must be a JSON object";
    doc = *body;
    ep = DetectEndpoint(doc);
  } else if (messages != line.end()) {
    for (const char* k : {"messages", "model", "tools", "functions", "response_format",
                          "max_tokens", "max_completion_tokens", "n", "stream"}) {
      if (line.contains(k)) doc[k] = line[k];
    }
  } else if (prompt != line.end()) {
    if (!prompt->is_string()) return "\"prompt\" must be a string";
    doc["messages"] = {{{"role", "user"}, {"content", *prompt}}};
  } else {
    return "the line has neither \"prompt\", \"messages\" nor \"body\"";
  }
  if (!doc.contains("model")) doc["model"] = cfg.router.virtual_models.front();
  if (auto e = ParseDocument(ep, std::move(doc), &out->req)) return e->message;
  if (auto k = line.find("key"); k != line.end() && !k->is_null()) {
    if (!k->is_string()) return "\"key\" must be a string (a key id)";
    out->key_id = k->get<std::string>();
  }
  if (auto h = line.find("headers"); h != line.end() && !h->is_null()) {
    if (!h->is_object()) return "\"headers\" must be an object";
    for (auto it = h->begin(); it != h->end(); ++it) {
      if (!it.value().is_string()) return "header values must be strings";
      std::string name = it.key();
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out->headers[name] = it.value().get<std::string>();
    }
  }
  return std::nullopt;
}

routing::Decision DecideOffline(const OfflineRouting& r, const OfflineRequest& q,
                                const routing::BudgetView& budget) {
  auto header = [&q](std::string_view name) -> std::optional<std::string_view> {
    std::string n(name);
    for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto it = q.headers.find(n);
    if (it == q.headers.end()) return std::nullopt;
    return std::string_view(it->second);
  };
  return r.router->Decide(routing::FactsFromRequest(q.req, q.key_id, header), budget);
}

bool ForEachInputLine(const Args& args, const char* verb,
                      const std::function<void(size_t, const std::string&)>& fn) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (auto path = args.Get("input"); path && *path != "-") {
    file.open(*path);
    if (!file) {
      std::fprintf(stderr, "signalbox %s: cannot read %s\n", verb, path->c_str());
      return false;
    }
    in = &file;
  }
  std::string line;
  size_t n = 0;
  while (std::getline(*in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    fn(n, line);
  }
  return true;
}

}  // namespace signalbox::app
