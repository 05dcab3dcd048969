// ArchSpec: everything that differs between the supported model families, as data.
// The forward pass and the denoiser branch on these fields only; a new family is a new row.
#pragma once

#include <string>
#include <vector>

namespace dlx {

enum class Family { kLLaDA, kDream, kSDAR, kFastDllmV2 };
enum class AttentionKind { kBidirectional, kBlockCausal };

// Config.json key names; an empty name means "not in this family's config".
struct ConfigKeys {
  const char* hidden;
  const char* layers;
  const char* heads;
  const char* kv_heads;
  const char* intermediate;
  const char* vocab;
  const char* max_positions;
  const char* norm_eps;
  const char* tie_embeddings;
  const char* qkv_bias;    // bool key that switches q/k/v biases on, if the family has one
  const char* block_size;  // the training block size of block-causal families
};

// Weight names. Per-layer names are appended to layer_prefix + "<i>.".
struct TensorNames {
  const char* embed;
  const char* final_norm;
  const char* lm_head;
  const char* layer_prefix;
  const char* attn_norm;
  const char* ffn_norm;
  const char* q;
  const char* k;
  const char* v;
  const char* o;
  const char* q_norm;
  const char* k_norm;
  const char* gate;
  const char* up;
  const char* down;
};

// The family's decoding defaults: what its official code does with no arguments, resolved
// by default_decode_params (engine/decode). Keys use the decoding table's text form.
struct DecodingDefaults {
  static constexpr int kTrainingBlock = -1;
  int block_length;             // kTrainingBlock: the config's training block size; 0: one block
  bool one_block_unless_tiled;  // a default gen_length the block does not tile is one block
  const char* keys;             // "key=value ..." for the keys that differ from the table's base
  bool generation_config_sampling;  // eps, alg, temperature, top_p, top_k of generation_config
  const char* source;               // where the defaults come from in the official code
};

// How the family is written in a GGUF file (engine/model/gguf_model.h).
struct GgufNames {
  const char* arch;  // general.architecture: llama.cpp's name where llama.cpp has the family
  // llama.cpp's converter permutes q/k rows per head for interleaved RoPE (LLaDA): GGUF row
  // 2*i+s of a head is HF row s*hd/2+i. Undone on load, applied on convert.
  bool qk_permuted;
};

struct ArchSpec {
  Family family;
  const char* name;                       // our name: llada, dream, sdar, fast_dllm_v2
  std::vector<std::string> architectures;  // config.json "architectures" entries
  std::vector<std::string> model_types;    // config.json "model_type" values
  AttentionKind attention;
  bool shift_logits;       // row p-1 of the forward scores position p
  bool block_aligned;      // decode blocks sit at absolute multiples of block_length
  bool qkv_bias_default;   // when the config has no qkv_bias key
  bool qk_norm;            // per-head RMSNorm of q and k before RoPE
  const char* end_of_turn;  // chat end-of-turn token text, also an end token
  const char* mask_token;   // tokenizer text of the mask token when config.json has no id
  ConfigKeys keys;
  TensorNames tensors;
  DecodingDefaults decoding;
  GgufNames gguf;
};

const std::vector<ArchSpec>& arch_specs();
const ArchSpec& arch_spec(Family f);
// Finds the spec for a config's "architectures" / "model_type"; nullptr when unknown.
const ArchSpec* find_arch_spec(const std::vector<std::string>& architectures,
                               const std::string& model_type);
// "LLaDAModelLM, DreamModel, ...": every config.json architecture the table supports.
std::string supported_architectures();
// A GGUF general.architecture ("llada", "dream", "sdar", "fast-dllm-v2") -> spec; nullptr when
// unknown.
const ArchSpec* find_arch_spec_by_gguf(const std::string& arch);
// Our family name ("llada", ...) -> spec; nullptr when unknown.
const ArchSpec* find_arch_spec_by_name(const std::string& name);

}  // namespace dlx
