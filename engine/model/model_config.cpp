#include "engine/model/model_config.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/util/error.h"
#include "engine/util/json_brief.h"
#include "engine/util/mapped_file.h"

namespace dlx {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

json parse_json_file(const std::string& path) {
  std::string text = read_text_file(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kInvalidModel, path + ": invalid JSON: " + e.what());
  }
}

class ConfigReader {
 public:
  ConfigReader(const json& j, std::string path) : j_(j), path_(std::move(path)) {}

  bool has(const char* key) const {
    return key && *key && j_.contains(key) && !j_[key].is_null();
  }
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
      if (!x.is_number_integer() || x.get<int64_t>() < 0) {
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
          t["id"].is_number_integer()) {
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
  const std::string path = (fs::path(dir) / "config.json").string();
  if (!fs::exists(path)) throw Error(ErrorCode::kNotFound, path + ": missing config.json");
  json j = parse_json_file(path);
  if (!j.is_object()) throw Error(ErrorCode::kInvalidModel, path + ": not a JSON object");
  ConfigReader r(j, path);

  std::vector<std::string> archs;
  if (j.contains("architectures") && j["architectures"].is_array()) {
    for (const auto& a : j["architectures"]) {
      if (a.is_string()) archs.push_back(a.get<std::string>());
    }
  }
  std::string model_type = j.value("model_type", std::string());
  ModelConfig c;
  c.dir = dir;
  c.spec = find_arch_spec(archs, model_type);
  if (!c.spec) {
    std::string got = archs.empty() ? "model_type '" + model_type + "'" : "'" + archs[0] + "'";
    throw Error(ErrorCode::kUnsupported,
                path + ": unknown architecture " + got +
                    " (supported: LLaDAModelLM, DreamModel, SDARForCausalLM, "
                    "Fast_dLLM_QwenForCausalLM)");
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
    c.intermediate = r.has("mlp_hidden_size")
                         ? r.positive_int("mlp_hidden_size")
                         : static_cast<int>(r.number("mlp_ratio", 4) * c.hidden);
    if (r.boolean("alibi", false) || !r.boolean("rope", true) ||
        j.value("block_type", std::string("llama")) != "llama" ||
        j.value("layer_norm_type", std::string("rms")) != "rms" ||
        j.value("activation_type", std::string("silu")) != "silu" ||
        r.boolean("scale_logits", false) || r.boolean("input_emb_norm", false)) {
      throw Error(ErrorCode::kUnsupported,
                  path + ": only LLaDA's llama block (rope, rms norm, silu, no alibi, no logit "
                         "scaling) is supported");
    }
    c.qkv_bias = r.boolean("include_bias", false) || r.boolean("include_qkv_bias", false);
    int emb = r.has("embedding_size") ? r.positive_int("embedding_size") : c.vocab;
    c.vocab = std::max(c.vocab, emb);  // the embedding table is padded to embedding_size
  } else {
    c.intermediate = r.positive_int(k.intermediate);
    c.qkv_bias = r.boolean(k.qkv_bias, c.spec->qkv_bias_default);
  }
  c.head_dim = r.has("head_dim") ? r.positive_int("head_dim") : c.hidden / c.heads;
  if (!r.has("head_dim") && c.hidden % c.heads != 0) {
    throw Error(ErrorCode::kInvalidModel, path + ": hidden size " + std::to_string(c.hidden) +
                                              " is not divisible by the head count");
  }
  if (c.head_dim % 2 != 0) {
    throw Error(ErrorCode::kInvalidModel, path + ": head_dim must be even for RoPE");
  }
  if (c.heads % c.kv_heads != 0) {
    throw Error(ErrorCode::kInvalidModel,
                path + ": attention heads (" + std::to_string(c.heads) +
                    ") must be a multiple of key/value heads (" + std::to_string(c.kv_heads) + ")");
  }
  c.norm_eps = static_cast<float>(r.number(k.norm_eps, 1e-6));
  c.rope_theta = r.number("rope_theta", 10000.0);
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
    throw Error(ErrorCode::kUnsupported, path + ": rope_scaling is not supported yet");
  }
  c.tie_embeddings = r.boolean(k.tie_embeddings, false);
  if (k.block_size[0] != '\0' && r.has(k.block_size)) c.train_block_size = r.positive_int(k.block_size);
  if (c.spec->attention == AttentionKind::kBlockCausal && c.train_block_size == 0) {
    c.train_block_size = c.spec->family == Family::kSDAR ? 4 : 32;  // the families' defaults
  }

  auto added = read_added_tokens(dir);
  auto first = [](const std::vector<int32_t>& v) { return v.empty() ? -1 : v.front(); };
  c.mask_id = first(r.ids("mask_token_id"));
  if (c.mask_id < 0) c.mask_id = find_token(added, c.spec->mask_token);
  if (c.mask_id < 0) {
    throw Error(ErrorCode::kInvalidModel, path + ": no mask_token_id and tokenizer.json has no '" +
                                              std::string(c.spec->mask_token) + "' token");
  }
  c.bos_id = first(r.ids("bos_token_id"));
  c.pad_id = first(r.ids("pad_token_id"));

  std::vector<int32_t> eos = r.ids("eos_token_id");
  const std::string gen_path = (fs::path(dir) / "generation_config.json").string();
  if (fs::exists(gen_path)) {
    json g = parse_json_file(gen_path);
    if (!g.is_object()) throw Error(ErrorCode::kInvalidModel, gen_path + ": not a JSON object");
    ConfigReader gr(g, gen_path);
    std::vector<int32_t> gen_eos = gr.ids("eos_token_id");
    if (!gen_eos.empty()) eos = gen_eos;
    if (c.bos_id < 0) c.bos_id = first(gr.ids("bos_token_id"));
    c.gen_temperature = gr.number("temperature", -1);
    c.gen_top_p = gr.number("top_p", -1);
    c.gen_top_k = gr.has("top_k") && g["top_k"].is_number_integer() ? g["top_k"].get<int>() : -1;
    c.gen_steps = gr.has("steps") && g["steps"].is_number_integer() ? g["steps"].get<int>() : -1;
    c.gen_eps = gr.number("eps", -1);
    if (g.contains("alg") && g["alg"].is_string()) c.gen_alg = g["alg"].get<std::string>();
  }
  for (int32_t id : eos) add_unique(c.eos_ids, id);
  add_unique(c.eos_ids, find_token(added, c.spec->end_of_turn));

  auto check_id = [&](int32_t id, const char* what) {
    if (id >= c.vocab) {
      throw Error(ErrorCode::kInvalidModel, path + ": " + what + " " + std::to_string(id) +
                                                " is outside the vocabulary of " +
                                                std::to_string(c.vocab));
    }
  };
  check_id(c.mask_id, "mask token id");
  for (int32_t id : c.eos_ids) check_id(id, "end token id");
  return c;
}

}  // namespace dlx
