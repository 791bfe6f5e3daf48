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
      std::string block = out.raw.substr(parsed, end - parsed);
      // The event and data fields; comments (": ping") are not events.
      SseEvent event;
      bool has_data = false;
      for (size_t start = 0; start <= block.size();) {
        size_t nl = block.find('\n', start);
        std::string line = block.substr(start, nl == std::string::npos ? nl : nl - start);
        if (line.rfind("event: ", 0) == 0) event.name = line.substr(7);
        if (line.rfind("data: ", 0) == 0) {
          event.data += (has_data ? "\n" : "") + line.substr(6);
          has_data = true;
        }
        if (nl == std::string::npos) break;
        start = nl + 1;
      }
      if (!has_data) continue;
      if (block.rfind("data: ", 0) == 0) out.events.push_back(block.substr(6));
      out.all.push_back(std::move(event));
      if (hang_up && hang_up(out)) return false;
    }
    return true;
  };
  httplib::Response res;
  client.send(req, res, out.error);
  return out;
}

}  // namespace signalbox::testing
