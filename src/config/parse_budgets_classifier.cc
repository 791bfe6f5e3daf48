// The `classifier` and `budgets` sections.
#include <fmt/format.h>
#include <openssl/sha.h>

#include <cctype>
#include <set>

#include "config/env_expand.h"
#include "config/parse_sections.h"

namespace signalbox::config_internal {
namespace {

using R = YamlReader;

bool HexToBytes(const std::string& hex, std::array<uint8_t, 32>* out) {
  if (hex.size() != 64) return false;
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < 32; ++i) {
    int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return true;
}

void ParseKey(R& r, const YAML::Node& n, const std::string& p, SourcePos parent, KeyConfig* k) {
  if (!r.ExpectMap(n, p, parent,
                   {"id", "key", "key_sha256", "daily_usd", "monthly_usd", "rpm", "tpm",
                    "max_parallel", "models"})) {
    return;
  }
  SourcePos pos = R::PosOf(n, parent);
  k->pos = pos;
  if (!r.GetString(n, "id", p, &k->id) || k->id.empty()) {
    r.Error(pos, R::Join(p, "id"), "is required");
  } else {
    for (char c : k->id) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
        r.Error(R::PosOf(n["id"], pos), R::Join(p, "id"),
                "may contain only letters, digits, '-', '_' and '.'");
        break;
      }
    }
  }
  bool has_hash = n["key_sha256"].IsDefined() && !n["key_sha256"].IsNull();
  bool has_key = n["key"].IsDefined() && !n["key"].IsNull();
  if (has_hash == has_key) {
    r.Error(pos, p, "set exactly one of key_sha256 (preferred) or key");
  } else if (has_hash) {
    std::string hex;
    if (r.GetString(n, "key_sha256", p, &hex) && !HexToBytes(hex, &k->sha256)) {
      r.Error(R::PosOf(n["key_sha256"], pos), R::Join(p, "key_sha256"),
              "must be 64 hexadecimal characters (sha256sum of the key)");
    }
  } else {
    std::string key;
    if (r.GetString(n, "key", p, &key)) {
      if (key.size() < 8) {
        // Never echo the value: it is a secret.
        r.Error(R::PosOf(n["key"], pos), R::Join(p, "key"), "must be at least 8 characters long");
      }
      SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), k->sha256.data());
    }
  }
  double v;
  if (r.GetDouble(n, "daily_usd", p, &v, 0, 1e9)) k->daily_usd = v;
  if (r.GetDouble(n, "monthly_usd", p, &v, 0, 1e9)) k->monthly_usd = v;
  int64_t iv;
  if (r.GetInt(n, "rpm", p, &iv, 1, 100'000'000)) k->rpm = iv;
  if (r.GetInt(n, "tpm", p, &iv, 1, 100'000'000'000)) k->tpm = iv;
  if (r.GetInt(n, "max_parallel", p, &iv, 1, 1'000'000)) k->max_parallel = iv;
  if (n["models"].IsDefined() && !n["models"].IsNull()) {
    std::vector<std::string> models;
    if (r.GetStringList(n, "models", p, &models)) {
      if (models.empty()) {
        r.Error(R::PosOf(n["models"], pos), R::Join(p, "models"),
                "lists no model: the key could not be used (leave models out to allow any)");
      }
      k->models = std::move(models);
    }
  }
}

}  // namespace

void ParseClassifier(R& r, const YAML::Node& n, SourcePos parent, ClassifierConfig* c) {
  const std::string p = "classifier";
  if (!r.ExpectMap(n, p, parent, {"signals", "keywords", "tiers"})) return;
  SourcePos pos = R::PosOf(n, parent);
  if (const YAML::Node& s = n["signals"]; s.IsDefined() && !s.IsNull()) {
    if (r.ExpectFreeMap(s, "classifier.signals", pos)) {
      for (auto it = s.begin(); it != s.end(); ++it) {
        std::string name = it->first.Scalar();
        std::string sp = R::Join("classifier.signals", name);
        c->signal_names.push_back({sp, name, R::PosOf(it->first, pos)});
        auto w = r.ToDouble(it->second, sp, R::PosOf(it->first, pos), 0, 10);
        if (w) c->signal_weights[name] = *w;
      }
    }
  }
  if (const YAML::Node& k = n["keywords"]; k.IsDefined() && !k.IsNull()) {
    if (r.ExpectFreeMap(k, "classifier.keywords", pos)) {
      for (auto it = k.begin(); it != k.end(); ++it) {
        std::string name = it->first.Scalar();
        std::string kp = R::Join("classifier.keywords", name);
        c->signal_names.push_back({kp, name, R::PosOf(it->first, pos)});
        std::vector<std::string> words;
        YAML::Node holder;
        holder[name] = it->second;
        if (r.GetStringList(holder, name.c_str(), "classifier.keywords", &words)) {
          for (auto& w : words) {
            if (w.empty()) r.Error(R::PosOf(it->second, pos), kp, "keywords must not be empty");
          }
          auto& dst = c->keywords[name];
          dst.insert(dst.end(), words.begin(), words.end());
        }
      }
    }
  }
  if (const YAML::Node& t = n["tiers"]; t.IsDefined() && !t.IsNull()) {
    if (r.ExpectFreeMap(t, "classifier.tiers", pos)) {
      c->tiers.clear();
      double prev = -1;
      for (auto it = t.begin(); it != t.end(); ++it) {
        std::string name = it->first.Scalar();
        std::string tp = R::Join("classifier.tiers", name);
        SourcePos kp = R::PosOf(it->first, pos);
        auto b = r.ToDouble(it->second, tp, kp, 0, 1);
        if (!b) continue;
        if (c->tiers.empty() && *b != 0) {
          r.Error(kp, tp, "the first tier must start at 0 so every score has a tier");
        }
        if (*b <= prev) {
          r.Error(kp, tp, "tiers must be listed in ascending order of their lower bound");
        }
        prev = *b;
        c->tiers.emplace_back(name, *b);
      }
      if (c->tiers.empty()) r.Error(R::PosOf(t, pos), "classifier.tiers", "list at least one tier");
    }
  }
}

void ParseBudgets(R& r, const YAML::Node& n, SourcePos parent, BudgetsConfig* b) {
  const std::string p = "budgets";
  if (!r.ExpectMap(
          n, p, parent,
          {"ledger_path", "request_max_usd", "default_output_tokens", "on_exceed", "keys"})) {
    return;
  }
  SourcePos pos = R::PosOf(n, parent);
  if (!r.GetString(n, "ledger_path", p, &b->ledger_path) || b->ledger_path.empty()) {
    auto def = ExpandEnv("${SIGNALBOX_STATE_DIR:-./state}/ledger.db", ProcessEnv());
    b->ledger_path = def.ok() ? *def : "./state/ledger.db";
  }
  double v;
  if (r.GetDouble(n, "request_max_usd", p, &v, 0, 1e6)) b->request_max_usd = v;
  int64_t iv;
  if (r.GetInt(n, "default_output_tokens", p, &iv, 1, 10'000'000)) b->default_output_tokens = iv;
  std::string mode;
  if (r.GetString(n, "on_exceed", p, &mode)) {
    if (mode == "downgrade")
      b->on_exceed = OnExceed::kDowngrade;
    else if (mode == "reject")
      b->on_exceed = OnExceed::kReject;
    else
      r.Error(R::PosOf(n["on_exceed"], pos), "budgets.on_exceed", "must be downgrade or reject");
  }
  const YAML::Node& keys = n["keys"];
  if (!keys.IsDefined() || keys.IsNull()) return;
  if (!r.ExpectSeq(keys, "budgets.keys", pos)) return;
  std::set<std::string> ids;
  std::set<std::array<uint8_t, 32>> hashes;
  for (size_t i = 0; i < keys.size(); ++i) {
    KeyConfig k;
    std::string kp = R::Index("budgets.keys", i);
    ParseKey(r, keys[i], kp, R::PosOf(keys, pos), &k);
    if (!k.id.empty() && !ids.insert(k.id).second) {
      r.Error(R::PosOf(keys[i]["id"], k.pos), R::Join(kp, "id"),
              fmt::format("duplicate key id '{}'", k.id));
    }
    if (k.sha256 != std::array<uint8_t, 32>{} && !hashes.insert(k.sha256).second) {
      r.Error(k.pos, kp, "the same key is configured twice (two ids would share one key)");
    }
    b->keys.push_back(std::move(k));
  }
}

}  // namespace signalbox::config_internal
