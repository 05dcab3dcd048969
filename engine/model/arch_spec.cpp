#include "engine/model/arch_spec.h"

#include <algorithm>

namespace dlx {
namespace {

// Qwen2/Qwen3-style config keys and tensor names, shared by Dream, SDAR and Fast-dLLM v2.
constexpr ConfigKeys kQwenKeys = {"hidden_size",       "num_hidden_layers",
                                  "num_attention_heads", "num_key_value_heads",
                                  "intermediate_size", "vocab_size",
                                  "max_position_embeddings", "rms_norm_eps",
                                  "tie_word_embeddings", "",
                                  ""};

constexpr TensorNames kQwenTensors = {
    "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight", "model.layers.",
    "input_layernorm.weight",    "post_attention_layernorm.weight",
    "self_attn.q_proj",          "self_attn.k_proj",
    "self_attn.v_proj",          "self_attn.o_proj",
    "self_attn.q_norm.weight",   "self_attn.k_norm.weight",
    "mlp.gate_proj",             "mlp.up_proj",
    "mlp.down_proj"};

std::vector<ArchSpec> make_specs() {
  std::vector<ArchSpec> specs;

  ConfigKeys llada_keys = {"d_model", "n_layers", "n_heads", "n_kv_heads", "mlp_hidden_size",
                           "vocab_size", "max_sequence_length", "rms_norm_eps", "weight_tying",
                           "include_qkv_bias", ""};
  TensorNames llada_tensors = {"model.transformer.wte.weight",
                               "model.transformer.ln_f.weight",
                               "model.transformer.ff_out.weight",
                               "model.transformer.blocks.",
                               "attn_norm.weight",
                               "ff_norm.weight",
                               "q_proj",
                               "k_proj",
                               "v_proj",
                               "attn_out",
                               "",
                               "",
                               "ff_proj",
                               "up_proj",
                               "ff_out"};
  specs.push_back({Family::kLLaDA, "llada", {"LLaDAModelLM"}, {"llada"},
                   AttentionKind::kBidirectional, /*shift*/ false, /*aligned*/ false,
                   /*qkv_bias*/ false, /*qk_norm*/ false, "<|eot_id|>", "<|mdm_mask|>",
                   llada_keys, llada_tensors,
                   {32, true, "schedule=uniform confidence=prob commit=schedule cache=none", false,
                    "generate.py: blocks of 32, one token per step"},
                   {"llada", /*qk_permuted*/ true}});

  specs.push_back({Family::kDream, "dream", {"DreamModel"}, {"Dream", "dream"},
                   AttentionKind::kBidirectional, true, false, true, false, "<|im_end|>",
                   "<|mask|>", kQwenKeys, kQwenTensors,
                   {0, false, "schedule=timestep commit=schedule cache=none", true,
                    "diffusion_generate: one block, timestep schedule, generation_config"},
                   {"dream", false}});

  ConfigKeys sdar_keys = kQwenKeys;
  sdar_keys.qkv_bias = "attention_bias";
  sdar_keys.block_size = "block_size";
  specs.push_back({Family::kSDAR, "sdar", {"SDARForCausalLM"}, {"sdar"},
                   AttentionKind::kBlockCausal, false, true, false, true, "<|im_end|>", "<MASK>",
                   sdar_keys, kQwenTensors,
                   {DecodingDefaults::kTrainingBlock, false,
                    "schedule=uniform confidence=prob commit=threshold_or_schedule "
                    "threshold=0.85 cache=block",
                    false, "generate.py: low_confidence_dynamic, threshold 0.85"},
                   {"sdar", false}});

  ConfigKeys fdl_keys = kQwenKeys;
  fdl_keys.block_size = "bd_size";
  specs.push_back({Family::kFastDllmV2, "fast_dllm_v2", {"Fast_dLLM_QwenForCausalLM"},
                   {"Fast_dLLM_Qwen"}, AttentionKind::kBlockCausal, true, true, true, false,
                   "<|im_end|>", "|<MASK>|", fdl_keys, kQwenTensors,
                   {DecodingDefaults::kTrainingBlock, false,
                    "sub_block_length=8 confidence=prob commit=threshold threshold=0.9 "
                    "cache=block",
                    false, "run_chatbot.py: block 32, small block 8, threshold 0.9"},
                   {"fast-dllm-v2", false}});
  return specs;
}

}  // namespace

const std::vector<ArchSpec>& arch_specs() {
  static const std::vector<ArchSpec> specs = make_specs();
  return specs;
}

const ArchSpec& arch_spec(Family f) {
  for (const auto& s : arch_specs()) {
    if (s.family == f) return s;
  }
  return arch_specs().front();
}

const ArchSpec* find_arch_spec(const std::vector<std::string>& architectures,
                               const std::string& model_type) {
  for (const auto& s : arch_specs()) {
    for (const auto& a : architectures) {
      if (std::find(s.architectures.begin(), s.architectures.end(), a) != s.architectures.end()) {
        return &s;
      }
    }
  }
  for (const auto& s : arch_specs()) {
    if (std::find(s.model_types.begin(), s.model_types.end(), model_type) != s.model_types.end()) {
      return &s;
    }
  }
  return nullptr;
}

std::string supported_architectures() {
  std::string out;
  for (const auto& s : arch_specs()) {
    for (const auto& a : s.architectures) out += (out.empty() ? "" : ", ") + a;
  }
  return out;
}

const ArchSpec* find_arch_spec_by_gguf(const std::string& arch) {
  for (const auto& s : arch_specs()) {
    if (arch == s.gguf.arch) return &s;
  }
  return nullptr;
}

const ArchSpec* find_arch_spec_by_name(const std::string& name) {
  for (const auto& s : arch_specs()) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

}  // namespace dlx
