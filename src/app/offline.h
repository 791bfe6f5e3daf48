// Offline routing for the CLI verbs (explain, score, calibrate, replay): the same
// Router::Decide() live traffic uses, fed from prompts and JSON lines instead of HTTP.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "app/args.h"
#include "config/config.h"
#include "openai/request.h"
#include "routing/router.h"

namespace signalbox::app {

struct OfflineRouting {
  Config cfg;
  std::shared_ptr<const routing::Router> router;
};

// Loads and validates the config of `args`; prints every problem to stderr and returns
// nullopt when it is invalid.
std::optional<OfflineRouting> LoadOffline(const Args& args);

// One request to route offline.
struct OfflineRequest {
  nlohmann::json id;  // as given in the line (string or number)
  ParsedRequest req;
  std::string key_id;                          // "" = none
  std::map<std::string, std::string> headers;  // lower-cased names
};

// Builds a request from a JSON line: {"id", "prompt"} or {"id", "messages", ...} (a chat
// body's routing fields are honoured: model, tools, response_format, max_tokens, n,
// stream), with optional "key" and "headers". Returns an error text on failure.
std::optional<std::string> RequestFromLine(const nlohmann::json& line, const Config& cfg,
                                           OfflineRequest* out);
// A plain prompt as one user message.
void RequestFromPrompt(const std::string& prompt, const Config& cfg, OfflineRequest* out);

// Calls fn(line_number, line) for every non-blank line of --input (or stdin when it is
// absent or "-"). Returns false (after a message naming `verb`) when the input cannot be
// opened.
bool ForEachInputLine(const Args& args, const char* verb,
                      const std::function<void(size_t, const std::string&)>& fn);

routing::Decision DecideOffline(const OfflineRouting& r, const OfflineRequest& q,
                                const routing::BudgetView& budget);

}  // namespace signalbox::app
