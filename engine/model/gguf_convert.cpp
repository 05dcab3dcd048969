#include "engine/model/gguf_convert.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/formats/gguf_writer.h"
#include "engine/formats/quant.h"
#include "engine/formats/safetensors.h"
#include "engine/model/gguf_model.h"
#include "engine/model/model_config.h"
#include "engine/model/weight_layout.h"
#include "engine/tokenizer/gguf_tokenizer.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/util/error.h"
#include "engine/util/json_parse.h"
#include "engine/util/mapped_file.h"

namespace dlx {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr int32_t kTokenNormal = 1, kTokenControl = 3, kTokenUserDefined = 4, kTokenUnused = 5;
constexpr int64_t kChunkValues = 1 << 20;  // values converted per write (4 MB of f32)

// llama.cpp's general.file_type (LLAMA_FTYPE_*) of a whole-model type.
uint32_t file_type(DType t) {
  switch (t) {
    case DType::kF32:
      return 0;
    case DType::kF16:
      return 1;
    case DType::kQ4_0:
      return 2;
    case DType::kQ8_0:
      return 7;
    case DType::kBF16:
      return 32;
    default:
      return 0;
  }
}

json read_json_file(const fs::path& p, size_t max_bytes = kMaxConfigFileBytes) {
  return parse_json_limited(read_text_file(p.string(), max_bytes), p.string(),
                            ErrorCode::kInvalidModel);
}

// The planned tensor: where its values come from and how they are written.
struct Planned {
  const HostTensor* src;
  std::string name;  // GGUF name
  DType type;
  int64_t rows, cols;  // HF order; rows 1 for vectors
  bool vector;
  int permute_heads = 0;  // > 0: LLaDA q/k rows interleaved per head (head_dim = rows / heads)
};

bool fits_f16(const HostTensor& t) {
  std::vector<float> buf(static_cast<size_t>(std::min<int64_t>(t.numel(), kChunkValues)));
  const size_t es = dtype_size(t.dtype);
  for (int64_t i = 0; i < t.numel(); i += kChunkValues) {
    const int64_t n = std::min(kChunkValues, t.numel() - i);
    dequantize_row(t.dtype, t.data + i * es, n, buf.data());
    for (int64_t j = 0; j < n; ++j) {
      if (std::fabs(buf[j]) > 65504.0f) return false;
    }
  }
  return true;
}

// Writes rows [r0, r1) of a tensor in the target type into `out` (appended).
void encode_rows(const Planned& p, int64_t r0, int64_t r1, std::vector<float>& wide,
                 std::vector<uint8_t>& out) {
  const size_t src_rb = dtype_row_bytes(p.src->dtype, p.cols);
  const size_t dst_rb = dtype_row_bytes(p.type, p.cols);
  const int64_t hd = p.permute_heads > 0 ? p.rows / p.permute_heads : 0;
  wide.resize(static_cast<size_t>(p.cols));
  for (int64_t r = r0; r < r1; ++r) {
    // GGUF row r of a permuted tensor is HF row s*hd/2 + i where r = head*hd + 2*i + s.
    int64_t src_row = r;
    if (hd > 0) {
      const int64_t head = r / hd, within = r % hd;
      src_row = head * hd + (within % 2) * (hd / 2) + within / 2;
    }
    const uint8_t* in = p.src->data + src_row * src_rb;
    const size_t at = out.size();
    out.resize(at + dst_rb);
    if (p.type == p.src->dtype) {
      std::memcpy(out.data() + at, in, dst_rb);  // bit-exact
      continue;
    }
    dequantize_row(p.src->dtype, in, p.cols, wide.data());
    if (dtype_is_quantized(p.type)) {
      quantize_row(p.type, wide.data(), p.cols, out.data() + at);
    } else if (p.type == DType::kF32) {
      std::memcpy(out.data() + at, wide.data(), dst_rb);
    } else {
      auto* h = reinterpret_cast<uint16_t*>(out.data() + at);
      for (int64_t j = 0; j < p.cols; ++j) {
        h[j] = p.type == DType::kF16 ? f32_to_f16(wide[j]) : f32_to_bf16(wide[j]);
      }
    }
  }
}

// The pre-tokenizer name llama.cpp would give this tokenizer.json ("default" when unknown: the
// embedded tokenizer.json still reproduces it exactly here).
std::string pre_tokenizer_name(const json& tok) {
  const json pre = tok.value("pre_tokenizer", json());
  if (pre.is_object() && pre.value("type", "") == "Sequence") {
    for (const auto& p : pre.value("pretokenizers", json::array())) {
      if (p.value("type", "") != "Split") continue;
      const json pat = p.value("pattern", json());
      const std::string re = pat.is_object() ? pat.value("Regex", "") : "";
      for (const char* name : {"qwen2", "llama-bpe"}) {
        if (re == gguf_pre_tokenizer_regex(name)) return name;
      }
    }
  }
  if (pre.is_object() && pre.value("type", "") == "ByteLevel" && pre.value("use_regex", true)) {
    return "gpt2";
  }
  return "default";
}

void write_tokenizer(GgufWriter& w, const fs::path& dir, const ModelConfig& c,
                     const Tokenizer& tok) {
  const std::string text =
      read_text_file((dir / "tokenizer.json").string(), kMaxTokenizerFileBytes);
  const json j =
      parse_json_limited(text, (dir / "tokenizer.json").string(), ErrorCode::kInvalidModel);
  const json& model = j.at("model");
  // Tokens by id, padded to the embedding's rows as llama.cpp's converter does.
  const int64_t n = std::max<int64_t>(c.vocab, static_cast<int64_t>(tok.vocab_size()));
  std::vector<std::string> tokens(static_cast<size_t>(n));
  std::vector<int32_t> types(static_cast<size_t>(n), kTokenUnused);
  for (auto it = model.at("vocab").begin(); it != model.at("vocab").end(); ++it) {
    const int64_t id = it.value().get<int64_t>();
    if (id >= 0 && id < n) tokens[id] = it.key(), types[id] = kTokenNormal;
  }
  for (const auto& a : j.value("added_tokens", json::array())) {
    const int64_t id = a.at("id").get<int64_t>();
    if (id < 0 || id >= n) continue;
    tokens[id] = a.at("content").get<std::string>();
    types[id] = a.value("special", false) ? kTokenControl : kTokenUserDefined;
  }
  for (int64_t i = 0; i < n; ++i) {
    if (types[i] == kTokenUnused) tokens[i] = "[PAD" + std::to_string(i) + "]";
  }
  std::vector<std::string> merges;
  for (const auto& m : model.value("merges", json::array())) {
    merges.push_back(m.is_string() ? m.get<std::string>()
                                   : m.at(0).get<std::string>() + " " + m.at(1).get<std::string>());
  }
  w.add_string("tokenizer.ggml.model", "gpt2");
  w.add_string("tokenizer.ggml.pre", pre_tokenizer_name(j));
  w.add_strings("tokenizer.ggml.tokens", tokens);
  w.add_i32s("tokenizer.ggml.token_type", types);
  w.add_strings("tokenizer.ggml.merges", merges);
  // Special ids: the tokenizer_config.json texts first, then config.json (as gguf-py does).
  const TokenizerConfig& tc = tok.config();
  auto id_or = [](int32_t a, int32_t b) { return a >= 0 ? a : b; };
  const int32_t bos = id_or(tc.bos_token_id, c.bos_id);
  const int32_t eos = id_or(tc.eos_token_id, c.eos_ids.empty() ? -1 : c.eos_ids.front());
  const int32_t pad = id_or(tc.pad_token_id, c.pad_id);
  if (bos >= 0) w.add_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(bos));
  if (eos >= 0) w.add_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(eos));
  if (pad >= 0) w.add_u32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(pad));
  w.add_u32("tokenizer.ggml.mask_token_id", static_cast<uint32_t>(c.mask_id));
  if (const int32_t eot = tok.token_to_id(c.spec->end_of_turn); eot >= 0) {
    w.add_u32("tokenizer.ggml.eot_token_id", static_cast<uint32_t>(eot));
  }
  w.add_bool("tokenizer.ggml.add_bos_token", tc.add_bos_token);
  w.add_bool("tokenizer.ggml.add_eos_token", tc.add_eos_token);
  if (!tc.chat_template.empty()) w.add_string("tokenizer.chat_template", tc.chat_template);
  w.add_string("tokenizer.huggingface.json", text);
}

void write_config(GgufWriter& w, const fs::path& dir, const ModelConfig& c, DType type) {
  const ArchSpec& s = *c.spec;
  const std::string a = std::string(s.gguf.arch) + ".";
  w.add_string("general.architecture", s.gguf.arch);
  w.add_string("general.type", "model");
  w.add_string("general.name", dir.filename().string());
  w.add_u32("general.file_type", file_type(type));
  if (dtype_is_quantized(type)) w.add_u32("general.quantization_version", 2);
  w.add_u32(a + "block_count", static_cast<uint32_t>(c.layers));
  w.add_u32(a + "context_length", static_cast<uint32_t>(c.max_positions));
  w.add_u32(a + "embedding_length", static_cast<uint32_t>(c.hidden));
  w.add_u32(a + "feed_forward_length", static_cast<uint32_t>(c.intermediate));
  w.add_u32(a + "attention.head_count", static_cast<uint32_t>(c.heads));
  w.add_u32(a + "attention.head_count_kv", static_cast<uint32_t>(c.kv_heads));
  if (c.head_dim * c.heads != c.hidden) {
    w.add_u32(a + "attention.key_length", static_cast<uint32_t>(c.head_dim));
    w.add_u32(a + "attention.value_length", static_cast<uint32_t>(c.head_dim));
  }
  w.add_u32(a + "rope.dimension_count", static_cast<uint32_t>(c.head_dim));
  w.add_f32(a + "rope.freq_base", static_cast<float>(c.rope_theta));
  w.add_f32(a + "attention.layer_norm_rms_epsilon", c.norm_eps);
  w.add_bool(a + "attention.causal", false);
  if (s.family == Family::kLLaDA) w.add_u32(a + "vocab_size", static_cast<uint32_t>(c.vocab));
  w.add_bool("diffusion.shift_logits", s.shift_logits);
  if (c.train_block_size > 0) {
    w.add_u32("diffusion.block_length", static_cast<uint32_t>(c.train_block_size));
  }
  w.add_i32s("diffusion.end_token_ids", c.eos_ids);

  // generation_config.json: sampling defaults under llama.cpp's general.sampling.* keys, the
  // rest under diffusion.*.
  const fs::path gen = dir / "generation_config.json";
  std::error_code ec;
  if (!fs::exists(gen, ec)) return;
  const json g = read_json_file(gen);
  auto num = [&](const char* k) { return g.contains(k) && g[k].is_number(); };
  auto count = [&](const char* k) {
    return g.contains(k) && g[k].is_number_integer() && g[k].get<int64_t>() >= 0;
  };
  if (num("temperature")) w.add_f32("general.sampling.temp", g["temperature"].get<float>());
  if (count("top_k")) w.add_i32("general.sampling.top_k", g["top_k"].get<int32_t>());
  if (num("top_p")) w.add_f32("general.sampling.top_p", g["top_p"].get<float>());
  if (count("steps")) w.add_u32("diffusion.steps", g["steps"].get<uint32_t>());
  if (count("max_new_tokens")) {
    w.add_u32("diffusion.max_new_tokens", g["max_new_tokens"].get<uint32_t>());
  }
  if (num("eps")) w.add_f32("diffusion.eps", g["eps"].get<float>());
  if (g.contains("alg") && g["alg"].is_string()) {
    w.add_string("diffusion.algorithm", g["alg"].get<std::string>());
  }
  if (g.contains("diffusion") && g["diffusion"].is_object()) {
    w.add_string("diffusion.defaults", g["diffusion"].dump());
  }
}

}  // namespace

DType parse_convert_type(const std::string& s, const char* param) {
  DType t;
  if (!parse_dtype(s, &t) || t == DType::kI32) {
    throw Error(ErrorCode::kInvalidArgument,
                std::string(param) + ": '" + s + "' is not one of f32, f16, bf16, q8_0, q4_0",
                param);
  }
  return t;
}

ConvertSummary convert_to_gguf(const ConvertOptions& opts) {
  const auto t0 = std::chrono::steady_clock::now();
  std::error_code ec;
  if (!fs::is_directory(opts.model_dir, ec)) {
    throw Error(ErrorCode::kNotFound,
                opts.model_dir + ": not a model folder (convert reads a Hugging Face folder)",
                "model");
  }
  if (opts.type == DType::kI32) {
    throw Error(ErrorCode::kInvalidArgument, "type: i32 is not a weight type", "type");
  }
  const fs::path dir = fs::canonical(opts.model_dir);
  const ModelConfig c = load_model_config(dir.string());
  const TensorStore store = TensorStore::open(dir.string(), opts.weights);
  std::shared_ptr<Tokenizer> tok;
  if (fs::exists(dir / "tokenizer.json", ec)) tok = Tokenizer::load(dir.string());

  ConvertSummary sum;
  sum.out = opts.out;
  std::vector<Planned> plan;
  for_each_weight(*c.spec, weight_dims(c), [&](const WeightSlot& slot) {
    const HostTensor* t = store.find(slot.name);
    if (!t) {
      if (!slot.required) return;
      throw Error(ErrorCode::kInvalidModel,
                  dir.string() + ": tensor '" + slot.name + "' is missing");
    }
    if (t->numel() != slot.rows * slot.cols || t->dtype == DType::kI32) {
      throw Error(ErrorCode::kInvalidModel, t->file + ": tensor '" + slot.name + "' has shape " +
                                                t->shape_str() +
                                                " or type the config does not fit");
    }
    Planned p{t, gguf_tensor_name(slot), opts.type, slot.rows, slot.cols, slot.is_vector()};
    if (p.vector) {
      p.type = DType::kF32;
    } else {
      if (opts.type == DType::kQ4_0 &&
          (slot.field == WeightField::kEmbed || slot.field == WeightField::kLmHead)) {
        p.type = DType::kQ8_0;
      }
      if (dtype_is_quantized(p.type) && slot.cols % 32 != 0) {
        p.type = DType::kF16;
        sum.fallbacks.push_back(p.name + ": f16 (rows of " + std::to_string(slot.cols) +
                                " values are not whole blocks of 32)");
      }
      if (p.type == DType::kF16 && t->dtype != DType::kF16 && !fits_f16(*t)) {
        p.type = DType::kF32;
        sum.fallbacks.push_back(p.name + ": f32 (values beyond f16's range)");
      }
    }
    const bool qk = slot.field == WeightField::kQ || slot.field == WeightField::kK ||
                    slot.field == WeightField::kQBias || slot.field == WeightField::kKBias;
    if (c.spec->gguf.qk_permuted && qk) {
      const bool is_q = slot.field == WeightField::kQ || slot.field == WeightField::kQBias;
      p.permute_heads = is_q ? c.heads : c.kv_heads;
      if (p.vector) {
        // A permuted bias: treat its elements as rows of one value.
        p.rows = slot.cols;
        p.cols = 1;
      }
    }
    plan.push_back(p);
  });

  GgufWriter w(opts.out);
  write_config(w, dir, c, opts.type);
  if (tok) write_tokenizer(w, dir, c, *tok);
  std::map<std::string, int> by_type;
  for (const auto& p : plan) {
    std::vector<int64_t> shape =
        p.vector ? std::vector<int64_t>{p.rows * p.cols} : std::vector<int64_t>{p.rows, p.cols};
    w.add_tensor(p.name, p.type, shape);
    by_type[dtype_name(p.type)]++;
    sum.parameters += p.rows * p.cols;
  }
  w.write_header();
  const uint64_t total = w.data_bytes();
  uint64_t done = 0;
  std::vector<float> wide;
  std::vector<uint8_t> buf;
  for (const auto& p : plan) {
    const int64_t rows_per_chunk =
        std::max<int64_t>(1, kChunkValues / std::max<int64_t>(1, p.cols));
    for (int64_t r = 0; r < p.rows; r += rows_per_chunk) {
      if (opts.interrupt) opts.interrupt->check("convert");
      buf.clear();
      encode_rows(p, r, std::min(p.rows, r + rows_per_chunk), wide, buf);
      w.write(buf.data(), buf.size());
      done += buf.size();
      if (opts.progress) opts.progress(done, total);
    }
  }
  w.finish();
  sum.file_bytes = fs::file_size(opts.out, ec);
  sum.bits_per_weight = sum.parameters > 0
                            ? 8.0 * static_cast<double>(total) / static_cast<double>(sum.parameters)
                            : 0;
  for (const auto& [k, v] : by_type) sum.tensors_by_type.emplace_back(k, v);
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum;
}

}  // namespace dlx
