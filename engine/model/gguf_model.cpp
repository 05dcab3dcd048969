#include "engine/model/gguf_model.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "engine/formats/kquant.h"
#include "engine/formats/quant.h"
#include "engine/model/weight_layout.h"
#include "engine/util/error.h"
#include "engine/util/json_parse.h"

namespace dlx {
namespace {

using json = nlohmann::json;

constexpr uint32_t kGgmlQ4K = 12, kGgmlQ6K = 14;  // ggml type ids read through kquant.h

// GGUF token types (tokenizer.ggml.token_type).
constexpr int64_t kTokenControl = 3, kTokenUserDefined = 4;

// llama.cpp counts a control token with one of these texts as an end of generation.
constexpr const char* kEndTokenTexts[] = {"<|eot_id|>",
                                          "<|im_end|>",
                                          "<|end|>",
                                          "<end_of_turn>",
                                          "<|endoftext|>",
                                          "<|end_of_text|>",
                                          "<EOT>",
                                          "_<EOT>",
                                          "<|eom_id|>",
                                          "<｜end▁of▁sentence｜>"};  // DeepSeek's

[[noreturn]] void bad(const GgufFile& f, const std::string& msg,
                      ErrorCode code = ErrorCode::kInvalidModel) {
  throw Error(code, f.path() + ": " + msg, "model");
}

const ArchSpec& gguf_spec(const GgufFile& f) {
  const std::string arch = f.get_string("general.architecture");
  const ArchSpec* spec = find_arch_spec_by_gguf(arch);
  if (!spec) {
    std::string known;
    for (const auto& s : arch_specs())
      known += (known.empty() ? "" : ", ") + std::string(s.gguf.arch);
    bad(f,
        "architecture '" + arch +
            "' is not a diffusion model this build runs (supported: " + known + ")",
        ErrorCode::kUnsupported);
  }
  return *spec;
}

// Control and user-defined tokens (the HF "added tokens"): text -> id.
std::vector<std::pair<std::string, int32_t>> added_tokens(const GgufFile& f) {
  std::vector<std::pair<std::string, int32_t>> out;
  const GgufValue* toks = f.find("tokenizer.ggml.tokens");
  const GgufValue* types = f.find("tokenizer.ggml.token_type");
  if (!toks || !types || toks->type != GgufType::kArray || types->type != GgufType::kArray) {
    return out;
  }
  const size_t n = std::min(toks->strings.size(), types->ints.size());
  for (size_t i = 0; i < n && i <= INT32_MAX; ++i) {
    if (types->ints[i] == kTokenControl || types->ints[i] == kTokenUserDefined) {
      out.emplace_back(toks->strings[i], static_cast<int32_t>(i));
    }
  }
  return out;
}

// Rows of the token embedding: the vocabulary the model scores.
int64_t embedding_rows(const GgufFile& f) {
  const GgufTensorInfo* t = f.find_tensor("token_embd.weight");
  if (!t) bad(f, "tensor 'token_embd.weight' is missing");
  if (t->ne.size() != 2) bad(f, "tensor 'token_embd.weight' is not a matrix");
  return t->ne[1];
}

void put_id(json& cfg, const char* hf_key, const GgufFile& f, const char* gguf_key) {
  if (auto v = f.opt_int(gguf_key)) cfg[hf_key] = *v;
}

json generation_json(const GgufFile& f) {
  json g = json::object();
  if (auto v = f.opt_number("general.sampling.temp")) g["temperature"] = *v;
  if (auto v = f.opt_number("general.sampling.top_p")) g["top_p"] = *v;
  if (auto v = f.opt_int("general.sampling.top_k")) g["top_k"] = *v;
  if (auto v = f.opt_int("diffusion.steps")) g["steps"] = *v;
  if (auto v = f.opt_int("diffusion.max_new_tokens")) g["max_new_tokens"] = *v;
  if (auto v = f.opt_number("diffusion.eps")) g["eps"] = *v;
  if (auto v = f.opt_string("diffusion.algorithm")) g["alg"] = *v;
  if (auto v = f.opt_string("diffusion.defaults")) {
    g["diffusion"] =
        parse_json_limited(*v, f.path() + " (diffusion.defaults)", ErrorCode::kInvalidModel);
  }
  return g.empty() ? json() : g;
}

}  // namespace

bool is_gguf_model_path(const std::string& path) {
  return is_gguf_file(path);
}

json gguf_config_json(const GgufFile& f) {
  const ArchSpec& spec = gguf_spec(f);
  const ConfigKeys& k = spec.keys;
  const std::string a = std::string(spec.gguf.arch) + ".";
  json cfg = json::object();
  cfg["architectures"] = json::array({spec.architectures.front()});
  cfg["model_type"] = spec.model_types.front();
  cfg[k.hidden] = f.get_int(a + "embedding_length");
  cfg[k.layers] = f.get_int(a + "block_count");
  cfg[k.heads] = f.get_int(a + "attention.head_count");
  if (auto kv = f.opt_int(a + "attention.head_count_kv")) cfg[k.kv_heads] = *kv;
  cfg[k.intermediate] = f.get_int(a + "feed_forward_length");
  cfg[k.vocab] = embedding_rows(f);
  cfg[k.max_positions] = f.get_int(a + "context_length");
  if (auto eps = f.opt_number(a + "attention.layer_norm_rms_epsilon")) cfg[k.norm_eps] = *eps;
  if (auto theta = f.opt_number(a + "rope.freq_base")) cfg["rope_theta"] = *theta;
  if (auto hd = f.opt_int(a + "attention.key_length")) cfg["head_dim"] = *hd;

  // Things the forward does not do are refused, not approximated.
  if (f.find(a + "rope.scaling.type") && f.get_string(a + "rope.scaling.type") != "none") {
    bad(f, a + "rope.scaling.type '" + f.get_string(a + "rope.scaling.type") + "' is not supported",
        ErrorCode::kUnsupported);
  }
  if (f.opt_bool(a + "attention.causal").value_or(false)) {
    bad(f, a + "attention.causal is true: a diffusion model attends both ways",
        ErrorCode::kUnsupported);
  }
  const int64_t heads = cfg[k.heads].get<int64_t>();
  const int64_t head_dim = cfg.contains("head_dim") ? cfg["head_dim"].get<int64_t>()
                           : heads > 0              ? cfg[k.hidden].get<int64_t>() / heads
                                                    : 0;
  if (auto rot = f.opt_int(a + "rope.dimension_count"); rot && *rot != head_dim) {
    bad(f,
        a + "rope.dimension_count " + std::to_string(*rot) + " differs from the head size " +
            std::to_string(head_dim) + ": partial rotary embeddings are not supported",
        ErrorCode::kUnsupported);
  }
  if (auto shift = f.opt_bool("diffusion.shift_logits"); shift && *shift != spec.shift_logits) {
    bad(f,
        std::string("diffusion.shift_logits is ") + (*shift ? "true" : "false") + ", but " +
            spec.name + " models are " + (spec.shift_logits ? "" : "not ") + "shifted",
        ErrorCode::kUnsupported);
  }
  const bool has_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;
  if (*k.qkv_bias) {
    cfg[k.qkv_bias] = has_bias;
  } else if (has_bias != spec.qkv_bias_default) {
    bad(f, std::string("q/k/v biases are ") + (has_bias ? "present" : "missing") + ", but " +
               spec.name + " models " + (spec.qkv_bias_default ? "have" : "have none"));
  }
  cfg[k.tie_embeddings] = f.find_tensor("output.weight") == nullptr;
  if (*k.block_size) {
    if (auto b = f.opt_int("diffusion.block_length")) cfg[k.block_size] = *b;
  }
  put_id(cfg, "mask_token_id", f, "tokenizer.ggml.mask_token_id");
  put_id(cfg, "bos_token_id", f, "tokenizer.ggml.bos_token_id");
  put_id(cfg, "pad_token_id", f, "tokenizer.ggml.padding_token_id");

  // End tokens: our files list them all; otherwise what llama.cpp counts as end of generation.
  json eos = json::array();
  if (const GgufValue* ids = f.find("diffusion.end_token_ids")) {
    if (ids->type != GgufType::kArray || ids->ints.size() != ids->array_size()) {
      bad(f, "diffusion.end_token_ids must be an array of token ids");
    }
    for (int64_t id : ids->ints) eos.push_back(id);
  } else {
    for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id",
                            "tokenizer.ggml.eom_token_id"}) {
      if (auto id = f.opt_int(key)) eos.push_back(*id);
    }
    for (const auto& [text, id] : added_tokens(f)) {
      for (const char* end : kEndTokenTexts) {
        if (text == end) eos.push_back(id);
      }
    }
  }
  if (!eos.empty()) cfg["eos_token_id"] = eos;
  return cfg;
}

ModelConfig gguf_model_config(const GgufFile& f) {
  ModelConfigSources src;
  src.config = gguf_config_json(f);
  src.config_name = f.path();
  src.generation = generation_json(f);
  src.generation_name = f.path();
  src.added_tokens = added_tokens(f);
  src.tokenizer_name = f.path();
  src.dir = f.path();
  return model_config_from_json(src);
}

std::string gguf_tensor_name(const WeightSlot& w) {
  using W = WeightField;
  const std::string blk = "blk." + std::to_string(w.layer) + ".";
  switch (w.field) {
    case W::kEmbed:
      return "token_embd.weight";
    case W::kFinalNorm:
      return "output_norm.weight";
    case W::kLmHead:
      return "output.weight";
    case W::kQ:
      return blk + "attn_q.weight";
    case W::kQBias:
      return blk + "attn_q.bias";
    case W::kK:
      return blk + "attn_k.weight";
    case W::kKBias:
      return blk + "attn_k.bias";
    case W::kV:
      return blk + "attn_v.weight";
    case W::kVBias:
      return blk + "attn_v.bias";
    case W::kO:
      return blk + "attn_output.weight";
    case W::kQNorm:
      return blk + "attn_q_norm.weight";
    case W::kKNorm:
      return blk + "attn_k_norm.weight";
    case W::kGate:
      return blk + "ffn_gate.weight";
    case W::kUp:
      return blk + "ffn_up.weight";
    case W::kDown:
      return blk + "ffn_down.weight";
    case W::kAttnNorm:
      return blk + "attn_norm.weight";
    case W::kFfnNorm:
      return blk + "ffn_norm.weight";
  }
  return {};
}

namespace {

class GgufWeightSource final : public WeightSource {
 public:
  GgufWeightSource(std::shared_ptr<const GgufFile> file, const ModelConfig& c)
      : file_(std::move(file)) {
    files_.push_back(file_->path());
    const WeightDims dims = weight_dims(c);
    for_each_weight(*c.spec, dims, [&](const WeightSlot& w) {
      const GgufTensorInfo* info = file_->find_tensor(gguf_tensor_name(w));
      if (!info) return;  // the loader reports missing required tensors by their HF name
      HostTensor h = is_kquant(info->ggml_type) ? requantize(*info) : file_->host_tensor(*info);
      h.name = w.name;
      const bool permuted = c.spec->gguf.qk_permuted &&
                            (w.field == WeightField::kQ || w.field == WeightField::kK ||
                             w.field == WeightField::kQBias || w.field == WeightField::kKBias);
      if (permuted) {
        const int heads =
            (w.field == WeightField::kQ || w.field == WeightField::kQBias) ? c.heads : c.kv_heads;
        unpermute(h, heads, c.head_dim);
      }
      tensors_[w.name] = std::move(h);
    });
    for (const auto& [name, t] : tensors_) index_[name] = &t;
  }

  const HostTensor* find(const std::string& name) const override {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : it->second;
  }
  const std::map<std::string, const HostTensor*>& all() const override { return index_; }
  const std::vector<std::string>& files() const override { return files_; }
  uint64_t total_bytes() const override { return file_->file_size(); }
  std::string changed() const override {
    const std::string what = file_->changed();
    return what.empty() ? what : file_->path() + " " + what;
  }

 private:
  static bool is_kquant(uint32_t t) { return t == kGgmlQ4K || t == kGgmlQ6K; }

  // A Q4_K / Q6_K tensor (no kernels compute with them) as Q8_0 rows in an owned buffer:
  // still quantized in memory, at 8.5 bits per weight; each value moves by at most half a
  // Q8_0 step of its 32-value block on top of the K-quant's own rounding.
  HostTensor requantize(const GgufTensorInfo& t) {
    HostTensor h;
    h.file = file_->path();
    h.dtype = DType::kQ8_0;
    h.shape.assign(t.ne.rbegin(), t.ne.rend());
    const int64_t cols = t.ne[0];
    const int64_t rows = h.numel() / cols;
    const size_t in_rb = (t.ggml_type == kGgmlQ4K ? kQ4KBytes : kQ6KBytes) *
                         static_cast<size_t>(cols / kKQuantBlock);
    const size_t out_rb = dtype_row_bytes(DType::kQ8_0, cols);
    auto& buf = owned_.emplace_back(out_rb * static_cast<size_t>(rows));
    std::vector<float> wide(static_cast<size_t>(cols));
    const uint8_t* in = file_->tensor_data(t);
    for (int64_t r = 0; r < rows; ++r) {
      if (t.ggml_type == kGgmlQ4K) {
        dequantize_row_q4_k(in + r * in_rb, cols, wide.data());
      } else {
        dequantize_row_q6_k(in + r * in_rb, cols, wide.data());
      }
      quantize_row(DType::kQ8_0, wide.data(), cols, buf.data() + r * out_rb);
    }
    h.data = buf.data();
    h.nbytes = buf.size();
    return h;
  }

  // llama.cpp stores q/k rows of each head interleaved for its adjacent-pair RoPE: GGUF row
  // 2*i+s is HF row s*hd/2+i. Rows (of any dtype: quantized rows are whole blocks) are copied
  // back into HF order; a vector (a bias) is permuted element by element the same way.
  void unpermute(HostTensor& h, int heads, int head_dim) {
    const bool vec = h.shape.size() == 1;
    const int64_t rows = h.shape[0];
    if (rows != int64_t{heads} * head_dim) return;  // the shape check reports the mismatch
    const size_t row_bytes = vec ? dtype_size(h.dtype) : h.nbytes / static_cast<size_t>(rows);
    auto& buf = owned_.emplace_back(h.nbytes);
    const int half = head_dim / 2;
    for (int hh = 0; hh < heads; ++hh) {
      for (int i = 0; i < half; ++i) {
        for (int s = 0; s < 2; ++s) {
          const int64_t src = int64_t{hh} * head_dim + 2 * i + s;
          const int64_t dst = int64_t{hh} * head_dim + s * half + i;
          std::memcpy(buf.data() + dst * row_bytes, h.data + src * row_bytes, row_bytes);
        }
      }
    }
    h.data = buf.data();
  }

  std::shared_ptr<const GgufFile> file_;
  std::vector<std::string> files_;
  std::map<std::string, HostTensor> tensors_;
  std::map<std::string, const HostTensor*> index_;
  std::vector<std::vector<uint8_t>> owned_;  // un-permuted copies
};

}  // namespace

std::unique_ptr<WeightSource> gguf_weight_source(std::shared_ptr<const GgufFile> file,
                                                 const ModelConfig& config) {
  return std::make_unique<GgufWeightSource>(std::move(file), config);
}

}  // namespace dlx
