#include "integration/sse_client.h"

namespace signalbox::testing {

SseResponse PostSse(const std::string& base_url, const std::string& path,
                    const std::string& json_body, const httplib::Headers& headers,
                    const std::function<bool(const SseResponse&)>& hang_up,
                    std::chrono::milliseconds read_timeout) {
  SseResponse out;
  httplib::Client client(base_url);
  client.set_read_timeout(read_timeout);
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.headers = headers;
  req.set_header("Content-Type", "application/json");
  req.body = json_body;
  req.response_handler = [&out](const httplib::Response& res) {
    out.status = res.status;
    out.content_type = res.get_header_value("Content-Type");
    out.headers = res.headers;
    return true;
  };
  size_t parsed = 0;  // bytes of out.raw already split into events
  req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
    out.raw.append(data, len);
    for (size_t end; (end = out.raw.find("\n\n", parsed)) != std::string::npos; parsed = end + 2) {
      std::string event = out.raw.substr(parsed, end - parsed);
      // Keep only the data field; comments (": ping") are not events.
      if (event.rfind("data: ", 0) == 0) {
        out.events.push_back(event.substr(6));
        if (hang_up && hang_up(out)) return false;
      }
    }
    return true;
  };
  httplib::Response res;
  client.send(req, res, out.error);
  return out;
}

}  // namespace signalbox::testing
