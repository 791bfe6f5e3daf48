#include "mock/openai_shapes.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "common/json_writer.h"

namespace signalbox::mock {
namespace {

// A fixed `created` for the model list: the answer must not change between calls.
constexpr int64_t kModelCreated = 1'700'000'000;

const char* ObjectName(const Generation& g, bool chunk) {
  if (g.api == Api::kCompletion) return "text_completion";
  return chunk ? "chat.completion.chunk" : "chat.completion";
}

void WriteUsage(JsonWriter& w, const Usage& u) {
  w.Key("usage").BeginObject();
  w.Field("prompt_tokens", u.prompt_tokens)
      .Field("completion_tokens", u.completion_tokens)
      .Field("total_tokens", u.prompt_tokens + u.completion_tokens);
  if (u.cached_tokens) {
    w.Key("prompt_tokens_details").BeginObject().Field("cached_tokens", *u.cached_tokens);
    w.EndObject();
  }
  w.EndObject();
}

void WriteHead(JsonWriter& w, const Generation& g, bool chunk) {
  w.BeginObject()
      .Field("id", g.id)
      .Field("object", ObjectName(g, chunk))
      .Field("created", g.created)
      .Field("model", g.model)
      .Field("system_fingerprint", "fp_mock");
}

// 64-bit FNV-1a, then splitmix64 steps: cheap, deterministic, well spread.
uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

uint64_t SplitMix(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

std::string ErrorBody(std::string_view message, std::string_view type, std::string_view param,
                      std::string_view code) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject().Key("error").BeginObject().Field("message", message).Field("type", type);
  w.Key("param");
  param.empty() ? w.Null() : w.String(param);
  w.Key("code");
  code.empty() ? w.Null() : w.String(code);
  w.EndObject().EndObject();
  return out;
}

std::string CompletionBody(const Generation& g) {
  std::string out;
  out.reserve(256 + g.tokens * 8);
  JsonWriter w(out);
  WriteHead(w, g, /*chunk=*/false);
  w.Key("choices").BeginArray().BeginObject().Field("index", 0);
  if (g.api == Api::kChat) {
    w.Key("message").BeginObject().Field("role", "assistant").Field("content", WholeText(g.tokens));
    w.Key("refusal").Null().EndObject();
  } else {
    w.Field("text", WholeText(g.tokens));
  }
  w.Key("logprobs").Null().Field("finish_reason", g.finish_reason).EndObject().EndArray();
  if (g.usage) WriteUsage(w, *g.usage);
  w.EndObject();
  return out;
}

std::string RoleChunk(const Generation& g, bool usage_null) {
  std::string out;
  JsonWriter w(out);
  WriteHead(w, g, /*chunk=*/true);
  w.Key("choices").BeginArray().BeginObject().Field("index", 0);
  w.Key("delta").BeginObject().Field("role", "assistant").Field("content", "");
  w.Key("refusal").Null().EndObject();
  w.Key("logprobs").Null().Key("finish_reason").Null().EndObject().EndArray();
  if (usage_null) w.Key("usage").Null();
  w.EndObject();
  return out;
}

std::string ContentChunk(const Generation& g, int i, bool usage_null) {
  std::string out;
  JsonWriter w(out);
  WriteHead(w, g, /*chunk=*/true);
  w.Key("choices").BeginArray().BeginObject();
  std::string text = i >= 0 ? TokenText(i) : "";
  if (g.api == Api::kChat) {
    w.Field("index", 0).Key("delta").BeginObject();
    if (i >= 0) w.Field("content", text);
    w.EndObject();
  } else {
    w.Field("text", text).Field("index", 0);
  }
  w.Key("logprobs").Null().Key("finish_reason");
  if (i == g.tokens - 1 || i < 0) {
    w.String(g.finish_reason);
  } else {
    w.Null();
  }
  w.EndObject().EndArray();
  if (usage_null) w.Key("usage").Null();
  w.EndObject();
  return out;
}

std::string UsageChunk(const Generation& g) {
  std::string out;
  JsonWriter w(out);
  WriteHead(w, g, /*chunk=*/true);
  w.Key("choices").BeginArray().EndArray();
  WriteUsage(w, *g.usage);
  w.EndObject();
  return out;
}

std::vector<float> EmbeddingVector(std::string_view text, int dimensions) {
  uint64_t state = Fnv1a(text);
  std::vector<float> v(static_cast<size_t>(dimensions));
  double norm = 0;
  for (float& x : v) {
    // 24 random bits -> [-1, 1): exact in a float.
    x = static_cast<float>(static_cast<double>(SplitMix(state) >> 40) / (1 << 23) - 1.0);
    norm += static_cast<double>(x) * x;
  }
  norm = std::sqrt(norm);
  if (norm > 0) {
    for (float& x : v) x = static_cast<float>(x / norm);
  }
  return v;
}

std::string EmbeddingsBody(const EmbeddingRequest& r, const std::string& model,
                           const std::optional<Usage>& usage) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject().Field("object", "list").Key("data").BeginArray();
  for (size_t i = 0; i < r.inputs.size(); ++i) {
    std::vector<float> v = EmbeddingVector(r.inputs[i], r.dimensions);
    w.BeginObject().Field("object", "embedding").Field("index", static_cast<int64_t>(i));
    w.Key("embedding");
    if (r.base64) {
      // Little-endian float32, as OpenAI sends it (this is x86: memcpy is enough).
      std::string bytes(v.size() * sizeof(float), '\0');
      std::memcpy(bytes.data(), v.data(), bytes.size());
      w.String(Base64Encode(bytes));
    } else {
      w.BeginArray();
      for (float x : v) w.Raw(fmt::format("{}", x));
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndArray().Field("model", model);
  if (usage) {
    w.Key("usage").BeginObject();
    w.Field("prompt_tokens", usage->prompt_tokens).Field("total_tokens", usage->prompt_tokens);
    w.EndObject();
  }
  w.EndObject();
  return out;
}

std::string ModelsBody(const std::string& model) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject().Field("object", "list").Key("data").BeginArray().BeginObject();
  w.Field("id", model).Field("object", "model").Field("created", kModelCreated);
  w.Field("owned_by", "signalbox-mock").EndObject().EndArray().EndObject();
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(n >> shift) & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = byte(i) << 16;
    if (rest == 2) n |= byte(i + 1) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace signalbox::mock
