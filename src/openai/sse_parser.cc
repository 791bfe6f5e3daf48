#include "openai/sse_parser.h"

namespace signalbox {

bool SseParser::Feed(std::string_view bytes) {
  if (error_) return false;
  size_t i = 0;
  if (last_was_cr_ && !bytes.empty()) {
    last_was_cr_ = false;
    if (bytes[0] == '\n') i = 1;
  }
  while (i < bytes.size()) {
    // Find the end of the current line in this chunk.
    size_t j = i;
    while (j < bytes.size() && bytes[j] != '\n' && bytes[j] != '\r') ++j;
    if (j == bytes.size()) {
      line_.append(bytes.data() + i, j - i);
      if (line_.size() > max_event_bytes_) {
        error_ = true;
        return false;
      }
      return true;
    }
    bool ok;
    if (line_.empty()) {
      ok = ProcessLine(bytes.substr(i, j - i));
    } else {
      line_.append(bytes.data() + i, j - i);
      ok = ProcessLine(line_);
      line_.clear();
    }
    if (!ok) return false;
    if (bytes[j] == '\r') {
      if (j + 1 < bytes.size()) {
        if (bytes[j + 1] == '\n') ++j;
      } else {
        last_was_cr_ = true;
      }
    }
    i = j + 1;
  }
  return true;
}

bool SseParser::ProcessLine(std::string_view line) {
  if (line.empty()) return Dispatch();
  if (line[0] == ':') return true;  // comment (keep-alive ping)
  std::string_view field = line;
  std::string_view value;
  if (size_t colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) data_ += '\n';
    data_.append(value);
    has_data_ = true;
    if (data_.size() > max_event_bytes_) {
      error_ = true;
      return false;
    }
  } else if (field == "event") {
    event_.assign(value);
  }
  // id, retry and unknown fields are ignored.
  return true;
}

bool SseParser::Dispatch() {
  if (!has_data_) {
    event_.clear();
    return true;
  }
  ++events_;
  bool ok = cb_(SseEvent{event_, data_});
  data_.clear();
  event_.clear();
  has_data_ = false;
  return ok;
}

std::string FormatSseEvent(std::string_view event, std::string_view data) {
  std::string out;
  out.reserve(data.size() + 16);
  if (!event.empty()) {
    out += "event: ";
    out += event;
    out += '\n';
  }
  size_t start = 0;
  while (true) {
    size_t nl = data.find('\n', start);
    out += "data: ";
    out.append(
        data.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    out += '\n';
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  out += '\n';
  return out;
}

}  // namespace signalbox
