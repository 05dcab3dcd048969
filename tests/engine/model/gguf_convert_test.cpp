// `diffulex convert` (convert_to_gguf): a folder written as one GGUF file is the same model.
// f32 and bf16 files give the folder's logits bit for bit and its golden generations token for
// token; q8_0 / q4_0 stay within the stated KL / top-1 bounds; tensors round-trip exactly;
// the tokenizer and chat template are the folder's; and our Dream / LLaDA tensors are the bytes
// llama.cpp's own converter and quantizer write.
#include "engine/model/gguf_convert.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/decode/generate.h"
#include "engine/formats/gguf.h"
#include "engine/formats/gguf_writer.h"
#include "engine/formats/quant.h"
#include "engine/formats/safetensors.h"
#include "engine/model/gguf_model.h"
#include "engine/model/weight_layout.h"
#include "engine/tokenizer/gguf_tokenizer.h"
#include "tests/support/gguf_test_util.h"
#include "tests/support/golden_cases.h"
#include "tests/support/kquant_encode.h"
#include "tests/support/test_util.h"

namespace dlx::test {
namespace {

using json = nlohmann::json;

// Converts each (family, type) once per process.
std::string converted(const std::string& fam, const std::string& type) {
  static std::map<std::string, std::string> done;
  const std::string key = fam + "-" + type;
  auto it = done.find(key);
  if (it != done.end()) return it->second;
  ConvertOptions o;
  o.model_dir = model_dir(fam);
  // Per process: ctest runs this file's tests in parallel processes.
  o.out = ::testing::TempDir() + "/conv-" + key + "-" + std::to_string(::getpid()) + ".gguf";
  o.type = parse_convert_type(type);
  // bf16 from the folder's bf16 weights: the same values, so the same logits bit for bit.
  if (type == "bf16") o.weights = "model.bf16.safetensors";
  const ConvertSummary s = convert_to_gguf(o);
  EXPECT_GT(s.file_bytes, 0u);
  return done[key] = o.out;
}

std::vector<json> entries(const std::string& fam, const std::string& weights) {
  std::vector<json> out;
  const json doc1 = json::parse(read_file(model_dir(fam) + "/logits/index.json"));
  for (const auto& e : doc1["entries"]) {
    if (e["weights"].get<std::string>() == weights) out.push_back(e);
  }
  EXPECT_FALSE(out.empty()) << fam << " " << weights;
  return out;
}

int block_of(const json& e) {
  return e["attention"].is_object() ? e["attention"]["block_causal"].get<int>() : 0;
}

class GgufConvert : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufConvert, F32AndBf16GiveTheFoldersLogitsBitForBit) {
  const std::string fam = GetParam();
  for (const char* weights : {"model.safetensors", "model.bf16.safetensors"}) {
    const bool bf16 = std::string(weights) != "model.safetensors";
    ModelLoadOptions fo;
    fo.weights = weights;
    auto folder = load_cpu(model_dir(fam), fo);
    auto file = load_cpu(converted(fam, bf16 ? "bf16" : "f32"));
    EXPECT_EQ(file->info.dtype, bf16 ? "bf16" : "f32");
    // The inputs of the f32 goldens (sdar and fast_dllm_v2 have no bf16 ones); bit-identical
    // to the folder, which golden_logits_test holds to the official code.
    for (const json& e : entries(fam, "model.safetensors")) {
      const auto ids = e["input_ids"].get<std::vector<int32_t>>();
      const auto got = forward_logits(*file->model, ids, block_of(e));
      EXPECT_EQ(got, forward_logits(*folder->model, ids, block_of(e))) << e["file"];
      if (bf16) continue;
      const auto golden = read_f32(model_dir(fam) + "/logits/" + e["file"].get<std::string>());
      EXPECT_LE(rel_diff(got, golden), 1e-4) << e["file"];
    }
  }
}

TEST_P(GgufConvert, F32ReproducesTheGoldenGenerations) {
  const std::string fam = GetParam();
  auto lm = load_cpu(converted(fam, "f32"));
  int n = 0;
  const json doc2 = json::parse(read_file(model_dir(fam) + "/cases.json"));
  for (const auto& c : doc2["cases"]) {
    if (!c["required"].get<bool>()) continue;
    const DecodeParams p = golden_case_params(lm->model->config(), c);
    const GenerateResult r = generate(*lm->model, c["prompt_ids"].get<std::vector<int32_t>>(), p);
    EXPECT_EQ(r.output_ids, c["expected_ids"].get<std::vector<int32_t>>()) << c["id"];
    ++n;
  }
  EXPECT_GT(n, 0);
}

TEST_P(GgufConvert, QuantizedStayWithinStatedBounds) {
  const std::string fam = GetParam();
  auto folder = load_cpu(model_dir(fam));
  // The fixtures' weights are large on purpose (peaked logits), which makes them very
  // sensitive to rounding: these bounds are for these tiny checkpoints, measured, with margin.
  struct Bound {
    const char* type;
    double mean_kl, top1;
  };
  // q4_0 on these random checkpoints is noise (mean KL 0.6 to 4.6, top-1 0 to 0.64): its quality
  // is asserted on the trained demo model below, its arithmetic against llama.cpp's logits in
  // gguf_interop_test.
  for (const Bound& b : {Bound{"f16", 0.001, 0.99}, Bound{"q8_0", 0.15, 0.6}}) {
    auto file = load_cpu(converted(fam, b.type));
    EXPECT_EQ(file->info.dtype, b.type);
    for (const json& e : entries(fam, "model.safetensors")) {
      const auto ids = e["input_ids"].get<std::vector<int32_t>>();
      const auto ref = forward_logits(*folder->model, ids, block_of(e));
      const auto got = forward_logits(*file->model, ids, block_of(e));
      const Agreement a = agreement(got, ref, folder->model->config().vocab);
      std::cout << "[gguf quality] " << fam << " " << b.type << " " << e["file"] << " mean KL "
                << a.mean_kl << " max KL " << a.max_kl << " top-1 " << a.top1 << "\n";
      EXPECT_LE(a.mean_kl, b.mean_kl) << b.type << " " << e["file"];
      EXPECT_GE(a.top1, b.top1) << b.type << " " << e["file"];
    }
  }
}

TEST_P(GgufConvert, TensorsRoundTrip) {
  const std::string fam = GetParam();
  const ModelConfig c = load_model_config(model_dir(fam));
  for (const char* type : {"f32", "f16", "bf16"}) {
    const TensorStore store = TensorStore::open(
        model_dir(fam), std::string(type) == "bf16" ? "model.bf16.safetensors" : "");
    auto file = std::make_shared<const GgufFile>(converted(fam, type));
    auto src = gguf_weight_source(file, gguf_model_config(*file));
    for_each_weight(*c.spec, weight_dims(c), [&](const WeightSlot& w) {
      const HostTensor* a = store.find(w.name);
      const HostTensor* b = src->find(w.name);
      if (!a) return;
      ASSERT_TRUE(b) << w.name;
      EXPECT_EQ(a->shape, b->shape) << w.name;
      if (w.is_vector()) {  // written as f32: the same values
        std::vector<float> wa(static_cast<size_t>(a->numel())), wb(wa.size());
        dequantize_row(a->dtype, a->data, a->numel(), wa.data());
        dequantize_row(b->dtype, b->data, b->numel(), wb.data());
        EXPECT_EQ(wa, wb) << type << " " << w.name;
        return;
      }
      if (std::string(type) != "f16") {
        ASSERT_EQ(a->nbytes, b->nbytes) << w.name;
        EXPECT_EQ(std::memcmp(a->data, b->data, a->nbytes), 0) << type << " " << w.name;
        return;
      }
      ASSERT_EQ(b->dtype, DType::kF16);
      const auto* f = reinterpret_cast<const float*>(a->data);
      const auto* h = reinterpret_cast<const uint16_t*>(b->data);
      for (int64_t i = 0; i < a->numel(); ++i) ASSERT_EQ(h[i], f32_to_f16(f[i])) << w.name;
    });
  }
}

TEST_P(GgufConvert, TokenizerTemplateAndDefaultsAreTheFolders) {
  const std::string fam = GetParam();
  auto folder = Tokenizer::load(model_dir(fam));
  GgufFile f(converted(fam, "q8_0"));
  auto tok = load_gguf_tokenizer(f);
  const json doc3 = json::parse(read_file(fixtures() + "/tokenizers/qwen3/encode_cases.json"));
  for (const auto& c : doc3["cases"]) {
    const std::string text = c["text"];
    EXPECT_EQ(tok->encode(text), folder->encode(text)) << text;
  }
  EXPECT_EQ(tok->config().chat_template, folder->config().chat_template);
  const json msgs = json::array({{{"role", "user"}, {"content", "Hi there"}}});
  EXPECT_EQ(render_chat(*tok, msgs, true), render_chat(*folder, msgs, true));
  // The whole config, and the decoding defaults it implies.
  const ModelConfig a = load_model_config(model_dir(fam)), b = gguf_model_config(f);
  EXPECT_EQ(a.eos_ids, b.eos_ids);
  EXPECT_EQ(a.bos_id, b.bos_id);
  EXPECT_EQ(a.train_block_size, b.train_block_size);
  EXPECT_EQ(a.gen_temperature, b.gen_temperature);
  EXPECT_EQ(a.gen_steps, b.gen_steps);
  EXPECT_EQ(a.gen_alg, b.gen_alg);
  EXPECT_EQ(to_json(default_decode_params(a)), to_json(default_decode_params(b)));
  const ModelInfo info = describe_model(converted(fam, "q8_0"));
  EXPECT_EQ(info.format, "gguf");
  EXPECT_EQ(info.dtype, "q8_0");
  EXPECT_TRUE(info.has_chat_template);
}

// The trained demo model (models/dlx-demo-llada) converted to q8_0 and q4_0, against its f32
// folder: logits of held-out chat prompts followed by 32 masks, every row scored.
TEST(GgufConvertDemo, QuantizedDemoModelStaysCloseToF32) {
  const std::string demo = std::string(DLX_SOURCE_DIR) + "/models/dlx-demo-llada";
  auto folder = load_cpu(demo);
  std::vector<std::vector<int32_t>> prompts;
  std::istringstream lines(
      read_file(std::string(DLX_SOURCE_DIR) + "/tests/bench/demo_heldout.jsonl"));
  for (std::string line; std::getline(lines, line) && prompts.size() < 12;) {
    const json msgs = json::array({{{"role", "user"}, {"content", json::parse(line)["prompt"]}}});
    auto ids = folder->tokenizer->encode(render_chat(*folder->tokenizer, msgs, true));
    ids.insert(ids.end(), 32, folder->model->config().mask_id);
    prompts.push_back(std::move(ids));
  }
  struct Bound {
    const char* type;
    double mean_kl, top1;
  };
  for (const Bound& b : {Bound{"q8_0", 0.01, 0.95}, Bound{"q4_0", 0.1, 0.85}}) {
    ConvertOptions o;
    o.model_dir = demo;
    o.out = ::testing::TempDir() + "/demo-" + b.type + "-" + std::to_string(::getpid()) + ".gguf";
    o.type = parse_convert_type(b.type);
    convert_to_gguf(o);
    auto file = load_cpu(o.out);
    double kl = 0, top1 = 0;
    for (const auto& ids : prompts) {
      const Agreement a =
          agreement(forward_logits(*file->model, ids), forward_logits(*folder->model, ids),
                    folder->model->config().vocab);
      kl += a.mean_kl / static_cast<double>(prompts.size());
      top1 += a.top1 / static_cast<double>(prompts.size());
    }
    std::cout << "[gguf quality] demo " << b.type << " mean KL " << kl << " top-1 " << top1 << "\n";
    EXPECT_LE(kl, b.mean_kl) << b.type;
    EXPECT_GE(top1, b.top1) << b.type;
  }
}

// llama.cpp's K-quants (most hub GGUFs are Q4_K_M: Q4_K and Q6_K) are read and requantized to
// Q8_0 at load. The demo model's f32 file with its ffn_down weights (rows of 512 values) as
// Q4_K (layers 0, 1) and Q6_K (layers 2, 3) gives the K-quant values, and logits close to f32.
TEST(GgufConvertDemo, KQuantTensorsAreReadAsQ8_0) {
  const std::string demo = std::string(DLX_SOURCE_DIR) + "/models/dlx-demo-llada";
  ConvertOptions o;
  o.model_dir = demo;
  o.out = ::testing::TempDir() + "/demo-kq-src-" + std::to_string(::getpid()) + ".gguf";
  o.type = DType::kF32;
  convert_to_gguf(o);
  const std::string out = ::testing::TempDir() + "/demo-kq-" + std::to_string(::getpid()) + ".gguf";
  std::map<std::string, std::vector<float>> want;  // the values each K-quant tensor encodes
  {
    GgufFile src(o.out);
    GgufWriter w(out);
    for (const auto& [k, v] : src.metadata()) w.add_value(k, v);
    std::vector<std::vector<uint8_t>> data;
    for (const auto& t : src.tensors()) {
      const HostTensor h = src.host_tensor(t);
      const auto* f = reinterpret_cast<const float*>(h.data);
      const bool down = t.name.find("ffn_down") != std::string::npos;
      if (!down) {
        w.add_tensor(t.name, h.dtype, h.shape);
        data.emplace_back(h.data, h.data + h.nbytes);
        continue;
      }
      const bool q4 = t.name.rfind("blk.0.", 0) == 0 || t.name.rfind("blk.1.", 0) == 0;
      w.add_tensor(t.name, q4 ? 12u : 14u, h.shape);
      data.push_back(q4 ? encode_q4_k(f, h.numel(), &want[t.name])
                        : encode_q6_k(f, h.numel(), &want[t.name]));
    }
    w.write_header();
    for (const auto& d : data) w.write(d.data(), d.size());
    w.finish();
  }
  auto file = std::make_shared<const GgufFile>(out);
  const ModelConfig cfg = gguf_model_config(*file);
  auto src = gguf_weight_source(file, cfg);
  for (int layer = 0; layer < 4; ++layer) {
    const std::string name = "blk." + std::to_string(layer) + ".ffn_down.weight";
    const HostTensor* h =
        src->find("model.transformer.blocks." + std::to_string(layer) + ".ff_out.weight");
    ASSERT_TRUE(h) << name;
    EXPECT_EQ(h->dtype, DType::kQ8_0);
    std::vector<float> got(static_cast<size_t>(h->numel()));
    dequantize_row(DType::kQ8_0, h->data, h->numel(), got.data());
    const auto& w = want[name];
    ASSERT_EQ(got.size(), w.size());
    float amax = 0;
    for (float v : w) amax = std::max(amax, std::fabs(v));
    for (size_t i = 0; i < w.size(); ++i) {
      ASSERT_NEAR(got[i], w[i], amax / 127.0f) << name << " " << i;  // within a Q8_0 step
    }
  }
  auto folder = load_cpu(demo);
  auto kq = load_cpu(out);
  EXPECT_EQ(kq->info.dtype, "f32");  // most bytes are still f32
  std::vector<int32_t> ids = folder->tokenizer->encode("copy: 1234");
  ids.insert(ids.end(), 16, folder->model->config().mask_id);
  const Agreement a = agreement(forward_logits(*kq->model, ids),
                                forward_logits(*folder->model, ids), folder->model->config().vocab);
  std::cout << "[gguf quality] demo with q4_K/q6_K ffn_down: mean KL " << a.mean_kl << " top-1 "
            << a.top1 << "\n";
  EXPECT_LE(a.mean_kl, 0.05);
  EXPECT_GE(a.top1, 0.9);
}

INSTANTIATE_TEST_SUITE_P(AllFamilies, GgufConvert,
                         ::testing::Values("llada", "dream", "sdar", "fast_dllm_v2"));

// Our Dream and LLaDA files hold the bytes llama.cpp's converter (f32: q/k permuted for LLaDA)
// and llama-quantize (q8_0; q4_0 for the tensors both keep at q4_0) write.
TEST(GgufConvertInterop, TensorsAreTheBytesLlamaCppWrites) {
  for (const char* fam : {"dream", "llada"}) {
    for (const char* type : {"f32", "q8_0", "q4_0"}) {
      GgufFile ours(converted(fam, type));
      GgufFile theirs(fixtures() + "/gguf/" + fam + "-" + type + ".gguf");
      int same_type = 0;
      for (const auto& t : theirs.tensors()) {
        const GgufTensorInfo* o = ours.find_tensor(t.name);
        ASSERT_TRUE(o) << fam << " " << t.name;
        EXPECT_EQ(o->ne, t.ne) << t.name;
        if (o->ggml_type != t.ggml_type) continue;  // q4_0: our embedding is q8_0
        ++same_type;
        ASSERT_EQ(o->nbytes, t.nbytes);
        EXPECT_EQ(std::memcmp(ours.tensor_data(*o), theirs.tensor_data(t), t.nbytes), 0)
            << fam << " " << type << " " << t.name;
      }
      EXPECT_GE(same_type, static_cast<int>(theirs.tensors().size()) - 1) << fam << " " << type;
    }
  }
}

TEST(GgufConvertErrors, BadInputsAreClearErrors) {
  ConvertOptions o;
  o.model_dir = "/nonexistent-folder";
  o.out = ::testing::TempDir() + "/x-" + std::to_string(::getpid()) + ".gguf";
  EXPECT_THROW(convert_to_gguf(o), Error);
  EXPECT_THROW(parse_convert_type("q5_1"), Error);
  o.model_dir = model_dir("dream");
  o.out = "/nonexistent-dir/x.gguf";
  try {
    convert_to_gguf(o);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/x.gguf.part-"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace dlx::test
