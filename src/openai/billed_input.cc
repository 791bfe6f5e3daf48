// JsonValueTokens (request.h): the admission estimate of billed input that is not text.
#include <nlohmann/json.hpp>

#include "openai/request.h"

namespace signalbox {
namespace {

using nlohmann::json;

// Bytes `v` takes as compact JSON, without serialising it. Depth is bounded by the
// caller (DepthWithin, or a parsed document of the CLI).
int64_t JsonBytes(const json& v) {
  switch (v.type()) {
    case json::value_t::string:
      return static_cast<int64_t>(v.get_ref<const std::string&>().size()) + 2;
    case json::value_t::array: {
      int64_t n = 2;
      for (const auto& e : v) n += JsonBytes(e) + 1;
      return n;
    }
    case json::value_t::object: {
      int64_t n = 2;
      for (const auto& [k, e] : v.items()) n += static_cast<int64_t>(k.size()) + 4 + JsonBytes(e);
      return n;
    }
    case json::value_t::null:
      return 4;
    case json::value_t::boolean:
      return 5;
    default:
      return 8;  // a number
  }
}

}  // namespace

int64_t JsonValueTokens(const nlohmann::json& v) { return (JsonBytes(v) + 3) / 4; }

}  // namespace signalbox
