#include "engine/model/model_config.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/util/error.h"
#include "engine/util/json_brief.h"
#include "engine/util/json_parse.h"
#include "engine/util/mapped_file.h"

namespace dlx {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

json parse_json_file(const std::string& path) {
  std::string text = read_text_file(path);
  return parse_json_limited(text, path, ErrorCode::kInvalidModel);
}

class ConfigReader {
 public:
  ConfigReader(const json& j, std::string path) : j_(j), path_(std::move(path)) {}

  bool has(const char* key) const { return key && *key && j_.contains(key) && !j_[key].is_null(); }
  int positive_int(const char* key) const {
    if (!has(key)) throw Error(ErrorCode::kInvalidModel, path_ + ": missing key '" + key + "'");
    const json& v = j_[key];
    if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > (1 << 30)) {
      throw Error(ErrorCode::kInvalidModel,
                  path_ + ": '" + key + "' must be a positive integer, got " + json_brief(v));
    }
    return v.get<int>();
  }
  double number(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    if (!j_[key].is_number()) {
      throw Error(ErrorCode::kInvalidModel, path_ + ": '" + key + "' must be a number");
    }
    return j_[key].get<double>();
  }
  std::string string(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (!j_[key].is_string()) {
      throw Error(ErrorCode::kInvalidModel,
                  path_ + ": '" + key + "' must be a string, got " + json_brief(j_[key]));
    }
    return j_[key].get<std::string>();
  }
  // A number that must be finite and > 0 (or >= 0 when zero_ok).
  double positive_number(const char* key, double fallback, bool zero_ok = false) const {
    const double v = number(key, fallback);
    if (!std::isfinite(v) || v < 0 || (v == 0 && !zero_ok)) {
      throw Error(ErrorCode::kInvalidModel, path_ + ": '" + key + "' must be a " +
                                                (zero_ok ? "non-negative" : "positive") +
                                                " finite number, got " + json_brief(j_[key]));
    }
    return v;
  }
  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!j_[key].is_boolean()) {
      throw Error(ErrorCode::kInvalidModel, path_ + ": '" + key + "' must be true or false");
    }
    return j_[key].get<bool>();
  }
  // An id or list of ids (eos_token_id may be either).
  std::vector<int32_t> ids(const char* key) const {
    std::vector<int32_t> out;
    if (!has(key)) return out;
    const json& v = j_[key];
    auto one = [&](const json& x) {
      // get<int64_t> of an unsigned value above INT64_MAX wraps negative: caught too.
      if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > INT32_MAX) {
        throw Error(ErrorCode::kInvalidModel, path_ + ": '" + key + "' must hold token ids");
      }
      out.push_back(x.get<int32_t>());
    };
    if (v.is_array()) {
      for (const auto& x : v) one(x);
    } else {
      one(v);
    }
    return out;
  }
  const json& raw() const { return j_; }

 private:
  const json& j_;
  std::string path_;
};

void add_unique(std::vector<int32_t>& v, int32_t id) {
  if (id >= 0 && std::find(v.begin(), v.end(), id) == v.end()) v.push_back(id);
}

// Added tokens of tokenizer.json: content -> id. Empty when the file is absent.
std::vector<std::pair<std::string, int32_t>> read_added_tokens(const std::string& dir) {
  std::vector<std::pair<std::string, int32_t>> out;
  fs::path p = fs::path(dir) / "tokenizer.json";
  if (!fs::exists(p)) return out;
  json j = parse_json_file(p.string());
  if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
    for (const auto& t : j["added_tokens"]) {
      if (t.contains("content") && t["content"].is_string() && t.contains("id") &&
          t["id"].is_number_integer() && t["id"].get<int64_t>() >= 0 &&
          t["id"].get<int64_t>() <= INT32_MAX) {
        out.emplace_back(t["content"].get<std::string>(), t["id"].get<int32_t>());
      }
    }
  }
  return out;
}

int32_t find_token(const std::vector<std::pair<std::string, int32_t>>& toks,
                   const std::string& text) {
  for (const auto& [s, id] : toks) {
    if (s == text) return id;
  }
  return -1;
}

}  // namespace

bool ModelConfig::is_end_token(int32_t id) const {
  return std::find(eos_ids.begin(), eos_ids.end(), id) != eos_ids.end();
}

ModelConfig load_model_config(const std::string& dir) {
  if (!fs::is_directory(dir)) {
    throw Error(ErrorCode::kNotFound, dir + ": not a model folder (no such directory)");
  }
  ModelConfigSources src;
  src.config_name = (fs::path(dir) / "config.json").string();
  if (!fs::exists(src.config_name)) {
    throw Error(ErrorCode::kNotFound, src.config_name + ": missing config.json");
  }
  src.config = parse_json_file(src.config_name);
  src.generation_name = (fs::path(dir) / "generation_config.json").string();
  if (fs::exists(src.generation_name)) src.generation = parse_json_file(src.generation_name);
  src.added_tokens = read_added_tokens(dir);
  src.tokenizer_name = (fs::path(dir) / "tokenizer.json").string();
  src.dir = dir;
  return model_config_from_json(src);
}

ModelConfig model_config_from_json(const ModelConfigSources& src) {
  const json& j = src.config;
  const std::string& path = src.config_name;
  if (!j.is_object()) throw Error(ErrorCode::kInvalidModel, path + ": not a JSON object");
  ConfigReader r(j, path);

  std::vector<std::string> archs;
  if (j.contains("architectures") && j["architectures"].is_array()) {
    for (const auto& a : j["architectures"]) {
      if (a.is_string()) archs.push_back(a.get<std::string>());
    }
  }
  std::string model_type = r.string("model_type", "");
  ModelConfig c;
  c.dir = src.dir;
  c.spec = find_arch_spec(archs, model_type);
  if (!c.spec) {
    std::string got = archs.empty() ? "model_type '" + model_type + "'" : "'" + archs[0] + "'";
    throw Error(ErrorCode::kUnsupported, path + ": unknown architecture " + got +
                                             " (supported: " + supported_architectures() + ")");
  }
  const ConfigKeys& k = c.spec->keys;
  c.hidden = r.positive_int(k.hidden);
  c.layers = r.positive_int(k.layers);
  c.heads = r.positive_int(k.heads);
  c.kv_heads = r.has(k.kv_heads) ? r.positive_int(k.kv_heads) : c.heads;
  c.vocab = r.positive_int(k.vocab);
  c.max_positions = r.positive_int(k.max_positions);
  if (c.spec->family == Family::kLLaDA) {
    // LLaDA: mlp_hidden_size wins; else mlp_ratio * d_model. Only the llama block with RMSNorm,
    // SwiGLU and RoPE is what the released checkpoints use; refuse anything else clearly.
    if (r.has("mlp_hidden_size")) {
      c.intermediate = r.positive_int("mlp_hidden_size");
    } else {
      const double f = r.number("mlp_ratio", 4) * c.hidden;  // cast only once it fits an int
      if (!(f >= 1 && f <= (1 << 30))) {
        throw Error(ErrorCode::kInvalidModel,
                    path + ": 'mlp_ratio' * d_model must give an MLP size in 1..2^30");
      }
      c.intermediate = static_cast<int>(f);
    }
    if (r.boolean("alibi", false) || !r.boolean("rope", true) ||
        r.string("block_type", "llama") != "llama" || r.string("layer_norm_type", "rms") != "rms" ||
        r.string("activation_type", "silu") != "silu" || r.boolean("scale_logits", false) ||
        r.boolean("input_emb_norm", false)) {
      throw Error(ErrorCode::kUnsupported,
                  path +
                      ": only LLaDA's llama block (rope, rms norm, silu, no alibi, no logit "
                      "scaling) is supported");
    }
    c.qkv_bias = r.boolean("include_bias", false) || r.boolean("include_qkv_bias", false);
    int emb = r.has("embedding_size") ? r.positive_int("embedding_size") : c.vocab;
    c.vocab = std::max(c.vocab, emb);  // the embedding table is padded to embedding_size
  } else {
    c.intermediate = r.positive_int(k.intermediate);
    c.qkv_bias = r.boolean(k.qkv_bias, c.spec->qkv_bias_default);
    // Qwen-style configs can ask for things the forward does not do; refuse them rather than
    // compute something else.
    const std::string act = r.string("hidden_act", "silu");
    if (act != "silu") {
      throw Error(ErrorCode::kUnsupported,
                  path + ": hidden_act '" + act + "' is not supported (only silu)");
    }
    if (r.boolean("use_sliding_window", false)) {
      throw Error(ErrorCode::kUnsupported,
                  path + ": sliding-window attention (use_sliding_window) is not supported");
    }
  }
  c.head_dim = r.has("head_dim") ? r.positive_int("head_dim") : c.hidden / c.heads;
  if (!r.has("head_dim") && c.hidden % c.heads != 0) {
    throw Error(ErrorCode::kInvalidModel, path + ": hidden size " + std::to_string(c.hidden) +
                                              " is not divisible by the head count");
  }
  if (c.head_dim % 2 != 0) {
    throw Error(ErrorCode::kInvalidModel, path + ": head_dim must be even for RoPE");
  }
  if (int64_t{c.heads} * c.head_dim > (1 << 30)) {
    throw Error(ErrorCode::kInvalidModel, path + ": attention heads x head_dim = " +
                                              std::to_string(int64_t{c.heads} * c.head_dim) +
                                              " is too large");
  }
  if (c.heads % c.kv_heads != 0) {
    throw Error(ErrorCode::kInvalidModel, path + ": attention heads (" + std::to_string(c.heads) +
                                              ") must be a multiple of key/value heads (" +
                                              std::to_string(c.kv_heads) + ")");
  }
  c.norm_eps = static_cast<float>(r.positive_number(k.norm_eps, 1e-6, /*zero_ok=*/true));
  c.rope_theta = r.positive_number("rope_theta", 10000.0);
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
    throw Error(ErrorCode::kUnsupported, path + ": rope_scaling is not supported yet");
  }
  c.tie_embeddings = r.boolean(k.tie_embeddings, false);
  if (k.block_size[0] != '\0' && r.has(k.block_size))
    c.train_block_size = r.positive_int(k.block_size);
  if (c.spec->attention == AttentionKind::kBlockCausal && c.train_block_size == 0) {
    c.train_block_size = c.spec->family == Family::kSDAR ? 4 : 32;  // the families' defaults
  }

  // Every special id must index the embedding: a bad one would only fail later, mid-decode, as
  // if the user had passed it. Each is checked against the file it came from.
  const std::string& tok_path = src.tokenizer_name;
  auto check_id = [&](int32_t id, const char* what, const std::string& file) {
    if (id >= c.vocab) {
      throw Error(ErrorCode::kInvalidModel, file + ": " + what + " " + std::to_string(id) +
                                                " is outside the vocabulary of " +
                                                std::to_string(c.vocab));
    }
  };
  auto first = [](const std::vector<int32_t>& v) { return v.empty() ? -1 : v.front(); };

  const auto& added = src.added_tokens;
  c.mask_id = first(r.ids("mask_token_id"));
  check_id(c.mask_id, "mask token id", path);
  if (c.mask_id < 0) {
    c.mask_id = find_token(added, c.spec->mask_token);
    check_id(c.mask_id, "mask token id", tok_path);
  }
  if (c.mask_id < 0) {
    throw Error(ErrorCode::kInvalidModel, path + ": no mask_token_id and tokenizer.json has no '" +
                                              std::string(c.spec->mask_token) + "' token");
  }
  c.bos_id = first(r.ids("bos_token_id"));
  check_id(c.bos_id, "bos token id", path);
  c.pad_id = first(r.ids("pad_token_id"));
  check_id(c.pad_id, "pad token id", path);

  std::vector<int32_t> eos = r.ids("eos_token_id");
  for (int32_t id : eos) check_id(id, "end token id", path);
  const std::string& gen_path = src.generation_name;
  if (!src.generation.is_null()) {
    const json& g = src.generation;
    if (!g.is_object()) throw Error(ErrorCode::kInvalidModel, gen_path + ": not a JSON object");
    ConfigReader gr(g, gen_path);
    std::vector<int32_t> gen_eos = gr.ids("eos_token_id");
    for (int32_t id : gen_eos) check_id(id, "end token id", gen_path);
    if (!gen_eos.empty()) eos = gen_eos;
    if (c.bos_id < 0) {
      c.bos_id = first(gr.ids("bos_token_id"));
      check_id(c.bos_id, "bos token id", gen_path);
    }
    // Integers as ints without wrap-around: negative means absent, huge saturates.
    auto count = [&](const char* key) {
      if (!gr.has(key) || !g[key].is_number_integer()) return -1;
      const int64_t v = g[key].get<int64_t>();
      return v < 0 ? -1 : static_cast<int>(std::min<int64_t>(v, INT32_MAX));
    };
    c.gen_temperature = gr.number("temperature", -1);
    c.gen_top_p = gr.number("top_p", -1);
    c.gen_top_k = count("top_k");
    c.gen_steps = count("steps");
    c.gen_max_new_tokens = count("max_new_tokens");
    c.gen_eps = gr.number("eps", -1);
    if (g.contains("alg") && g["alg"].is_string()) c.gen_alg = g["alg"].get<std::string>();
    if (g.contains("diffusion")) {
      const json& d = g["diffusion"];
      if (!d.is_object()) {
        throw Error(ErrorCode::kInvalidModel,
                    gen_path + ": \"diffusion\" must be an object of decoding keys");
      }
      for (auto it = d.begin(); it != d.end(); ++it) {
        const json& v = it.value();
        c.gen_diffusion.emplace_back(it.key(), v.is_string() ? v.get<std::string>() : v.dump());
      }
    }
  }
  for (int32_t id : eos) add_unique(c.eos_ids, id);
  const int32_t eot = find_token(added, c.spec->end_of_turn);
  check_id(eot, "end-of-turn token id", tok_path);
  add_unique(c.eos_ids, eot);
  return c;
}

}  // namespace dlx
