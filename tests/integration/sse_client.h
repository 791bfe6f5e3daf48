// A test client for server-sent events: POSTs a JSON body and collects the `data:`
// payloads as they arrive, optionally hanging up early. Used against signalbox-mock
// and the gateway alike.
#pragma once

#include <httplib.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace signalbox::testing {

// One event of the stream: its `event:` name ("" when it has none) and its data.
struct SseEvent {
  std::string name;
  std::string data;
};

struct SseResponse {
  int status = 0;  // 0: no response head arrived
  std::string content_type;
  httplib::Headers headers;
  std::vector<std::string> events;  // the data of every complete unnamed event, in order
  // Every complete event with data, named (`event: message_start`, as the Responses and
  // Messages APIs send them) or not, in order.
  std::vector<SseEvent> all;
  std::string raw;  // every body byte received
  httplib::Error error = httplib::Error::Success;

  bool Done() const { return !events.empty() && events.back() == "[DONE]"; }
};

// `hang_up` runs after each complete event with data, named or not; returning true
// closes the connection.
SseResponse PostSse(const std::string& base_url, const std::string& path,
                    const std::string& json_body, const httplib::Headers& headers = {},
                    const std::function<bool(const SseResponse&)>& hang_up = nullptr,
                    std::chrono::milliseconds read_timeout = std::chrono::seconds(10));

}  // namespace signalbox::testing
