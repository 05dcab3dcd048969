// ModelConfig: a model's dimensions and special ids, read from its Hugging Face folder
// (config.json, generation_config.json, and the added tokens of tokenizer.json).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "engine/model/arch_spec.h"

namespace dlx {

struct ModelConfig {
  const ArchSpec* spec = nullptr;
  std::string dir;  // the model folder

  int hidden = 0;  // D
  int layers = 0;
  int heads = 0;         // H
  int kv_heads = 0;      // KV (GQA: H % KV == 0)
  int head_dim = 0;      // hd
  int intermediate = 0;  // F
  int vocab = 0;         // V
  int max_positions = 0;
  int train_block_size = 0;  // block-causal families: config's block_size / bd_size
  float norm_eps = 1e-6f;
  double rope_theta = 10000.0;
  bool tie_embeddings = false;
  bool qkv_bias = false;

  int32_t mask_id = -1;
  int32_t bos_id = -1;
  int32_t pad_id = -1;
  std::vector<int32_t> eos_ids;  // every end token (generation_config + config + end-of-turn)

  // generation_config.json values the decoding defaults may use (NaN / -1 when absent).
  double gen_temperature = -1;
  int gen_top_k = -1;
  double gen_top_p = -1;
  int gen_steps = -1;
  int gen_max_new_tokens = -1;  // the model's default canvas length (gen_length)
  double gen_eps = -1;
  std::string gen_alg;
  // generation_config.json's "diffusion" object: our decoding keys with the model's own
  // defaults (e.g. the demo model's threshold decoding), as (key, value text), applied over
  // the family's defaults. Checked when the defaults are resolved.
  std::vector<std::pair<std::string, std::string>> gen_diffusion;

  std::string family_name() const { return spec ? spec->name : "unknown"; }
  int q_dim() const { return heads * head_dim; }
  int kv_dim() const { return kv_heads * head_dim; }
  bool is_end_token(int32_t id) const;
};

// The parsed files a config is read from. A model folder gives them directly; a GGUF file's
// metadata is translated into the same form (engine/model/gguf_model.h), so both are validated
// by the same code. The *_name fields name the source in error messages.
struct ModelConfigSources {
  nlohmann::json config;  // config.json
  std::string config_name;
  nlohmann::json generation;  // generation_config.json; null when absent
  std::string generation_name;
  std::vector<std::pair<std::string, int32_t>> added_tokens;  // tokenizer.json's, text -> id
  std::string tokenizer_name;
  std::string dir;  // ModelConfig::dir: the folder (or the GGUF file)
};
ModelConfig model_config_from_json(const ModelConfigSources& src);

// Reads and validates config.json (+ optional generation_config.json, tokenizer.json) in dir.
// Throws Error with the file and the problem on anything missing or inconsistent.
ModelConfig load_model_config(const std::string& dir);

}  // namespace dlx
