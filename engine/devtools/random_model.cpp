#include "engine/devtools/random_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/devtools/random_tokenizer.h"
#include "engine/formats/quant.h"
#include "engine/formats/safetensors_writer.h"
#include "engine/model/weight_layout.h"
#include "engine/util/error.h"
#include "engine/util/thread_pool.h"

namespace dlx {
namespace fs = std::filesystem;
using json = nlohmann::json;

const std::vector<RandomModelPreset>& random_model_presets() {
  static const std::vector<RandomModelPreset> presets = {
      {"tiny", 64, 2, 4, 2, 16, 128, 512, 512, false, 1e6, 1e-6,
       "the fixtures' shape (hidden 64, 2 layers); for tests"},
      {"tiny-qwen-vocab", 32, 1, 2, 1, 16, 64, 151936, 2048, true, 1e6, 1e-6,
       "a 1-layer body on Qwen's 151936-token vocabulary: tests of the vocab-sized buffers"},
      {"qwen2.5-0.5b", 896, 24, 14, 2, 64, 4864, 151936, 32768, true, 1e6, 1e-6,
       "Qwen2.5-0.5B (Dream / Fast-dLLM v2 shape): 0.49B parameters, tied embeddings"},
      {"qwen3-1.7b", 2048, 28, 16, 8, 128, 6144, 151936, 40960, true, 1e6, 1e-6,
       "Qwen3-1.7B (SDAR-1.7B shape): 1.7B parameters, tied embeddings"},
      {"llada-1b", 2048, 12, 16, 16, 128, 5632, 126464, 4096, false, 500000.0, 1e-5,
       "LLaDA-8B's layout scaled to 1.1B: d_model 2048, 12 layers, MHA, untied head"},
  };
  return presets;
}

const RandomModelPreset* find_random_model_preset(const std::string& name) {
  for (const auto& p : random_model_presets()) {
    if (name == p.name) return &p;
  }
  return nullptr;
}

namespace {

// The family's special tokens with their ids in the real checkpoints, and which is which.
struct FamilyTokens {
  std::vector<SpecialToken> tokens;
  int bos, eos, mask, eot;  // indices into tokens
};

FamilyTokens family_tokens(Family f) {
  switch (f) {
    case Family::kLLaDA:
      return {{{"<|startoftext|>", 126080},
               {"<|endoftext|>", 126081},
               {"<|mdm_mask|>", 126336},
               {"<|start_header_id|>", 126346},
               {"<|end_header_id|>", 126347},
               {"<|eot_id|>", 126348}},
              0,
              1,
              2,
              5};
    case Family::kDream:
      return {{{"<|endoftext|>", 151643},
               {"<|im_start|>", 151644},
               {"<|im_end|>", 151645},
               {"<|mask|>", 151666}},
              0,
              0,
              3,
              2};
    case Family::kSDAR:
      return {{{"<|endoftext|>", 151643},
               {"<|im_start|>", 151644},
               {"<|im_end|>", 151645},
               {"<MASK>", 151669}},
              0,
              0,
              3,
              2};
    case Family::kFastDllmV2:
      return {{{"<|endoftext|>", 151643},
               {"<|im_start|>", 151644},
               {"<|im_end|>", 151645},
               {"|<MASK>|", 151665}},
              0,
              2,
              3,
              2};
  }
  return {};
}

// Keeps the real ids when they fit the vocabulary, else moves the specials to its end.
// Returns the number of ids left for regular (BPE) tokens below the first special.
int place_special_tokens(FamilyTokens& ft, int vocab) {
  int32_t lo = INT32_MAX, hi = 0;
  for (const auto& t : ft.tokens) {
    lo = std::min(lo, t.id);
    hi = std::max(hi, t.id);
  }
  const int n = static_cast<int>(ft.tokens.size());
  if (hi >= vocab) {
    for (int i = 0; i < n; ++i) ft.tokens[i].id = vocab - n + i;
    lo = vocab - n;
  }
  return lo;
}

const char* torch_dtype_name(DType d) {
  switch (d) {
    case DType::kBF16:
      return "bfloat16";
    case DType::kF16:
      return "float16";
    default:
      return "float32";
  }
}

constexpr const char* kQwenChatTemplate =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|im_start|>assistant\\n' }}{% endif %}";
constexpr const char* kLLaDAChatTemplate =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | "
    "trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% "
    "endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

// config.json with the family's real key set (the keys of its released checkpoints).
json make_config(const ArchSpec& spec, const RandomModelPreset& p, const FamilyTokens& ft,
                 DType dtype) {
  const int32_t bos = ft.tokens[ft.bos].id, eos = ft.tokens[ft.eos].id;
  const int32_t mask = ft.tokens[ft.mask].id;
  json c;
  if (spec.family == Family::kLLaDA) {
    c = {{"activation_type", "silu"},
         {"alibi", false},
         {"alibi_bias_max", 8.0},
         {"architectures", {"LLaDAModelLM"}},
         {"attention_dropout", 0.0},
         {"attention_layer_norm", false},
         {"attention_layer_norm_with_affine", true},
         {"auto_map",
          {{"AutoConfig", "configuration_llada.LLaDAConfig"},
           {"AutoModelForCausalLM", "modeling_llada.LLaDAModelLM"},
           {"AutoModel", "modeling_llada.LLaDAModelLM"}}},
         {"bias_for_layer_norm", false},
         {"block_group_size", 1},
         {"block_type", "llama"},
         {"d_model", p.hidden},
         {"embedding_dropout", 0.0},
         {"embedding_size", p.vocab},
         {"eos_token_id", eos},
         {"flash_attention", false},
         {"include_bias", false},
         {"include_qkv_bias", false},
         {"init_cutoff_factor", nullptr},
         {"init_device", "meta"},
         {"init_fn", "mitchell"},
         {"init_std", 0.02},
         {"input_emb_norm", false},
         {"layer_norm_type", "rms"},
         {"layer_norm_with_affine", true},
         {"mask_token_id", mask},
         {"max_sequence_length", p.max_positions},
         {"mlp_hidden_size", p.intermediate},
         {"mlp_ratio",
          std::max(1, static_cast<int>(std::lround(double(p.intermediate) / p.hidden)))},
         {"model_type", "llada"},
         {"multi_query_attention", nullptr},
         {"n_heads", p.heads},
         {"n_kv_heads", p.kv_heads},
         {"n_layers", p.layers},
         {"pad_token_id", eos},
         {"precision", "amp_bf16"},
         {"residual_dropout", 0.0},
         {"rms_norm_eps", p.norm_eps},
         {"rope", true},
         {"rope_full_precision", true},
         {"rope_theta", p.rope_theta},
         {"scale_logits", false},
         {"transformers_version", "4.46.3"},
         {"use_cache", false},
         {"vocab_size", p.vocab},
         {"weight_tying", p.tie_embeddings}};
    return c;
  }
  // Qwen2 / Qwen3 based families share most keys.
  c = {{"attention_dropout", 0.0},
       {"bos_token_id", bos},
       {"eos_token_id", eos},
       {"hidden_act", "silu"},
       {"hidden_size", p.hidden},
       {"initializer_range", 0.02},
       {"intermediate_size", p.intermediate},
       {"max_position_embeddings", p.max_positions},
       {"max_window_layers", p.layers},
       {"num_attention_heads", p.heads},
       {"num_hidden_layers", p.layers},
       {"num_key_value_heads", p.kv_heads},
       {"rms_norm_eps", p.norm_eps},
       {"rope_scaling", nullptr},
       {"rope_theta", p.rope_theta},
       {"sliding_window", nullptr},
       {"tie_word_embeddings", p.tie_embeddings},
       {"torch_dtype", torch_dtype_name(dtype)},
       {"use_sliding_window", false},
       {"vocab_size", p.vocab}};
  switch (spec.family) {
    case Family::kDream:
      c["architectures"] = {"DreamModel"};
      c["auto_map"] = {{"AutoConfig", "configuration_dream.DreamConfig"},
                       {"AutoModel", "modeling_dream.DreamModel"}};
      c["mask_token_id"] = mask;
      c["model_type"] = "Dream";
      c["pad_token_id"] = eos;
      c["transformers_version"] = "4.46.2";
      c["use_cache"] = false;
      break;
    case Family::kSDAR:
      c["architectures"] = {"SDARForCausalLM"};
      c["auto_map"] = {{"AutoConfig", "configuration_sdar.SDARConfig"},
                       {"AutoModel", "modeling_sdar.SDARModel"},
                       {"AutoModelForCausalLM", "modeling_sdar.SDARForCausalLM"}};
      c["attention_bias"] = false;
      c["attn_implementation"] = "flex_attention";
      c["block_size"] = 4;
      c["debug"] = false;
      c["ep_size"] = 1;
      c["fuse_cross_entropy"] = true;
      c["head_dim"] = p.head_dim;
      c["mask_token_id"] = mask;
      c["micro_forward"] = false;
      c["model_type"] = "sdar";
      c["skip_checkpoint"] = false;
      c["transformers_version"] = "4.52.4";
      c["use_cache"] = false;
      c["use_deepep"] = false;
      break;
    case Family::kFastDllmV2:
      c["architectures"] = {"Fast_dLLM_QwenForCausalLM"};
      c["auto_map"] = {{"AutoConfig", "configuration.Fast_dLLM_QwenConfig"},
                       {"AutoModel", "modeling.Fast_dLLM_QwenModel"},
                       {"AutoModelForCausalLM", "modeling.Fast_dLLM_QwenForCausalLM"}};
      c["bd_size"] = 32;
      c["conplemenrary_mask"] = true;  // sic: the released checkpoints' spelling
      c["layer_types"] = std::vector<std::string>(p.layers, "full_attention");
      c["model_type"] = "Fast_dLLM_Qwen";
      c["pad_token_id"] = eos;
      c["transformers_version"] = "4.53.1";
      c["use_cache"] = true;
      break;
    case Family::kLLaDA:
      break;
  }
  return c;
}

json make_generation_config(const ArchSpec& spec, const FamilyTokens& ft) {
  const int32_t bos = ft.tokens[ft.bos].id, eos = ft.tokens[ft.eos].id;
  const int32_t eot = ft.tokens[ft.eot].id, endoftext = ft.tokens[0].id;
  switch (spec.family) {
    case Family::kLLaDA:
      return {{"_from_model_config", true},
              {"bos_token_id", bos},
              {"eos_token_id", eos},
              {"transformers_version", "4.46.3"}};
    case Family::kDream:
      return {{"_from_model_config", true}, {"alg", "origin"},
              {"alg_temp", nullptr},        {"bos_token_id", bos},
              {"eos_token_id", eos},        {"eps", 0.001},
              {"mask_token_id", nullptr},   {"output_history", false},
              {"pad_token_id", eos},        {"steps", 512},
              {"temperature", 0.0},         {"top_k", nullptr},
              {"top_p", nullptr},           {"transformers_version", "4.46.2"}};
    case Family::kSDAR:
      return {{"bos_token_id", bos},
              {"do_sample", true},
              {"eos_token_id", {eot, endoftext}},
              {"pad_token_id", bos},
              {"temperature", 0.6},
              {"top_k", 20},
              {"top_p", 0.95},
              {"transformers_version", "4.51.0"}};
    case Family::kFastDllmV2:
      return {{"bos_token_id", bos},
              {"do_sample", true},
              {"eos_token_id", {eot, endoftext}},
              {"pad_token_id", bos},
              {"repetition_penalty", 1.05},
              {"temperature", 0.7},
              {"top_k", 20},
              {"top_p", 0.8},
              {"transformers_version", "4.53.1"}};
  }
  return json::object();
}

json make_tokenizer_config(const ArchSpec& spec, const FamilyTokens& ft, int max_positions) {
  json added = json::object();
  for (const auto& t : ft.tokens) {
    added[std::to_string(t.id)] = {{"content", t.content}, {"single_word", false},
                                   {"lstrip", false},      {"rstrip", false},
                                   {"normalized", false},  {"special", true}};
  }
  const bool llada = spec.family == Family::kLLaDA;
  const std::string& eot = ft.tokens[ft.eot].content;
  json c = {{"tokenizer_class", "PreTrainedTokenizerFast"},
            {"model_max_length", max_positions},
            {"eos_token", eot},
            {"pad_token", eot},
            {"mask_token", ft.tokens[ft.mask].content},
            {"chat_template", llada ? kLLaDAChatTemplate : kQwenChatTemplate},
            {"added_tokens_decoder", added}};
  c["bos_token"] = llada ? json(ft.tokens[ft.bos].content) : json(nullptr);
  return c;
}

enum class Fill { kNormal, kOnes };

struct TensorPlan {
  TensorDecl decl;
  Fill fill;
};

std::vector<TensorPlan> plan_tensors(const ArchSpec& spec, const RandomModelPreset& p,
                                     DType dtype) {
  WeightDims d;
  d.hidden = p.hidden;
  d.vocab = p.vocab;
  d.intermediate = p.intermediate;
  d.head_dim = p.head_dim;
  d.heads = p.heads;
  d.kv_heads = p.kv_heads;
  d.layers = p.layers;
  d.qkv_bias = spec.family == Family::kLLaDA ? false : spec.qkv_bias_default;
  d.qk_norm = spec.qk_norm;
  d.tie_embeddings = p.tie_embeddings;
  std::vector<TensorPlan> out;
  for_each_weight(spec, d, [&](const WeightSlot& w) {
    if (!w.required) return;  // the tied lm_head: the embedding serves
    std::vector<int64_t> shape =
        w.is_vector() ? std::vector<int64_t>{w.cols} : std::vector<int64_t>{w.rows, w.cols};
    out.push_back({{w.name, dtype, std::move(shape)}, w.is_norm() ? Fill::kOnes : Fill::kNormal});
  });
  return out;
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

// Counter-based N(0, std): element i comes from pair i/2 of Box-Muller over a hash of
// (key, i/2), so any chunk can be generated independently and in parallel.
void normals(uint64_t key, int64_t first, int64_t n, float stddev, float* out) {
  constexpr float kTwoPi = 6.28318530717958647692f;
  for (int64_t e = first, end = first + n; e < end;) {
    const uint64_t r = splitmix64(key + static_cast<uint64_t>(e >> 1));
    const float u1 = (static_cast<float>(r >> 40) + 0.5f) * (1.0f / 16777216.0f);
    const float u2 = static_cast<float>((r >> 8) & 0xFFFFFF) * (1.0f / 16777216.0f);
    const float rad = std::sqrt(-2.0f * std::log(u1)) * stddev;
    if ((e & 1) == 0) {
      *out++ = rad * std::cos(kTwoPi * u2);
      ++e;
    }
    if (e < end) {
      *out++ = rad * std::sin(kTwoPi * u2);
      ++e;
    }
  }
}

void convert(const float* src, int64_t n, DType dtype, uint8_t* dst) {
  if (dtype == DType::kI32) throw Error(ErrorCode::kInternal, "random model: integer weights");
  quantize_row(dtype, src, n, dst);
}

void write_json(const fs::path& path, const json& j) {
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  if (!out) throw Error(ErrorCode::kNotFound, path.string() + ": cannot write");
}

std::string shard_name(size_t i, size_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", i + 1, n);
  return buf;
}

}  // namespace

RandomModelInfo write_random_model(const RandomModelOptions& o, const ProgressFn& progress) {
  if (!o.family) throw_invalid_argument("family", "no model family given");
  const RandomModelPreset* pp = find_random_model_preset(o.preset);
  if (!pp) {
    std::string names;
    for (const auto& p : random_model_presets())
      names += std::string(names.empty() ? "" : ", ") + p.name;
    throw_invalid_argument("preset", "unknown preset '" + o.preset + "' (known: " + names + ")");
  }
  const RandomModelPreset& p = *pp;
  const ArchSpec& spec = *o.family;
  if (o.dtype == DType::kI32) throw_invalid_argument("dtype", "must be f32, bf16 or f16");
  if (spec.family != Family::kSDAR && p.head_dim * p.heads != p.hidden) {
    throw_invalid_argument("preset", std::string(p.name) + " has head_dim " +
                                         std::to_string(p.head_dim) + " != hidden / heads, which " +
                                         spec.name + "'s config cannot express");
  }
  if (o.shard_bytes == 0) throw_invalid_argument("shard-size", "must be positive");

  FamilyTokens ft = family_tokens(spec.family);
  const int first_special = place_special_tokens(ft, p.vocab);
  // Up to ~1000 merges: enough for the built-in text, small enough to keep tokenizer.json tiny.
  const int max_regular = std::min(first_special, 256 + 1000);
  if (max_regular < 256) throw_invalid_argument("preset", "vocabulary too small for 256 bytes");

  const fs::path dir(o.out_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    throw Error(ErrorCode::kNotFound, o.out_dir + ": cannot create the folder: " + ec.message());
  }
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("model", 0) == 0 && name.find(".safetensors") != std::string::npos) {
      fs::remove(entry.path());
    }
  }

  RandomModelInfo info;
  write_json(dir / "config.json", make_config(spec, p, ft, o.dtype));
  write_json(dir / "generation_config.json", make_generation_config(spec, ft));
  write_json(dir / "tokenizer.json", make_bpe_tokenizer_json(max_regular, ft.tokens));
  write_json(dir / "tokenizer_config.json", make_tokenizer_config(spec, ft, p.max_positions));
  info.files = {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"};

  // Shards: a tensor starts a new shard when it would push the current one past the limit.
  const std::vector<TensorPlan> plan = plan_tensors(spec, p, o.dtype);
  std::vector<std::vector<const TensorPlan*>> shards(1);
  uint64_t in_shard = 0;
  for (const TensorPlan& t : plan) {
    if (in_shard > 0 && in_shard + t.decl.nbytes() > o.shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().push_back(&t);
    in_shard += t.decl.nbytes();
    info.weight_bytes += t.decl.nbytes();
    info.parameters += t.decl.numel();
  }

  ThreadPool pool(o.threads);
  constexpr int64_t kChunk = 1 << 20;  // elements per generated chunk (even: pairs stay whole)
  std::vector<float> values(kChunk);
  std::vector<uint8_t> bytes(kChunk * sizeof(float));
  json weight_map = json::object();
  uint64_t done = 0;
  for (size_t s = 0; s < shards.size(); ++s) {
    const std::string file =
        shards.size() == 1 ? "model.safetensors" : shard_name(s, shards.size());
    std::vector<TensorDecl> decls;
    for (const TensorPlan* t : shards[s]) {
      decls.push_back(t->decl);
      weight_map[t->decl.name] = file;
    }
    SafetensorsWriter w((dir / file).string(), decls);
    for (const TensorPlan* t : shards[s]) {
      const uint64_t key = splitmix64(o.seed ^ fnv1a(t->decl.name));
      const int64_t n = t->decl.numel();
      for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
        const int64_t m = std::min(kChunk, n - c0);
        if (t->fill == Fill::kOnes) {
          std::fill(values.begin(), values.begin() + m, 1.0f);
        } else {
          pool.parallel_for(m, 1 << 14, [&](int64_t b, int64_t e) {
            normals(key, c0 + b, e - b, 0.02f, values.data() + b);
          });
        }
        convert(values.data(), m, o.dtype, bytes.data());
        const size_t nb = static_cast<size_t>(m) * dtype_size(o.dtype);
        w.write(bytes.data(), nb);
        done += nb;
        if (progress) progress(done, info.weight_bytes, file);
      }
    }
    w.finish();
    info.files.push_back(file);
  }
  if (shards.size() > 1) {
    write_json(dir / "model.safetensors.index.json",
               {{"metadata", {{"total_size", info.weight_bytes}}}, {"weight_map", weight_map}});
    info.files.push_back("model.safetensors.index.json");
  }
  return info;
}

}  // namespace dlx
