// Model::load on broken model folders: config.json problems, tensors missing or mis-shaped for
// the config, sharded checkpoints, and --weights. Each must give a dlx::Error with the right code
// and a message naming the file and the problem.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/load_error_util.h"
#include "tests/support/safetensors_writer.h"

namespace dlx::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::shared_ptr<Model> load(const std::string& dir, const LoadOptions& o = {}) {
  return Model::load(dir, make_cpu_backend(1), o);
}

// Logits of a fixed id sequence (every row), for comparing two ways of loading one model.
std::vector<float> logits_of(const Model& m) {
  const std::vector<int32_t> ids = {1, 5, 7, 300, 505, 505, 3, 42};
  Session st = m.new_session(static_cast<int64_t>(ids.size()), static_cast<int64_t>(ids.size()));
  ForwardSpan span;
  span.ids = ids;
  const float* p = m.forward(st, span);
  return std::vector<float>(p, p + ids.size() * m.config().vocab);
}

// --- config.json ---------------------------------------------------------------------------

class ConfigErrors : public ::testing::Test {
 protected:
  void use(const std::string& family) {
    dir_ = copy_model(family);
    config_ = dir_ + "/config.json";
  }
  void SetUp() override { use("dream"); }
  void edit(const std::function<void(json&)>& f) { edit_json(config_, f); }
  void expect(ErrorCode code, const std::string& problem) {
    EXPECT_LOAD_ERROR(load_error(dir_), code, config_, problem);
  }
  std::string dir_, config_;
};

TEST_F(ConfigErrors, MissingFolder) {
  EXPECT_LOAD_ERROR(load_error(dir_ + "/nope"), ErrorCode::kNotFound, dir_ + "/nope",
                    "no such directory");
}

TEST_F(ConfigErrors, MissingConfigJson) {
  fs::remove(config_);
  expect(ErrorCode::kNotFound, "missing config.json");
}

TEST_F(ConfigErrors, InvalidJson) {
  write_bytes(config_, "{\"hidden_size\": 64,");
  expect(ErrorCode::kInvalidModel, "invalid JSON");
  write_bytes(config_, "");
  expect(ErrorCode::kInvalidModel, "invalid JSON");
}

TEST_F(ConfigErrors, NotAnObject) {
  write_bytes(config_, "[1, 2]");
  expect(ErrorCode::kInvalidModel, "not a JSON object");
}

TEST_F(ConfigErrors, InvalidGenerationConfig) {
  const std::string gen = dir_ + "/generation_config.json";
  write_bytes(gen, "{oops");
  EXPECT_LOAD_ERROR(load_error(dir_), ErrorCode::kInvalidModel, gen, "invalid JSON");
  write_bytes(gen, "42");
  EXPECT_LOAD_ERROR(load_error(dir_), ErrorCode::kInvalidModel, gen, "not a JSON object");
}

TEST_F(ConfigErrors, UnknownArchitecture) {
  edit([](json& j) {
    j["architectures"] = {"GPT2LMHeadModel"};
    j["model_type"] = "gpt2";
  });
  expect(ErrorCode::kUnsupported, "unknown architecture 'GPT2LMHeadModel'");
  edit([](json& j) { j.erase("architectures"); });
  expect(ErrorCode::kUnsupported, "unknown architecture model_type 'gpt2'");
}

TEST_F(ConfigErrors, ModelTypeOfWrongType) {
  // Used to escape as a raw nlohmann type_error without the file name.
  edit([](json& j) {
    j.erase("architectures");
    j["model_type"] = 7;
  });
  expect(ErrorCode::kInvalidModel, "'model_type' must be a string");
}

TEST_F(ConfigErrors, MissingKeysQwenFamilies) {
  for (const char* key : {"hidden_size", "num_hidden_layers", "num_attention_heads",
                          "intermediate_size", "vocab_size", "max_position_embeddings"}) {
    SCOPED_TRACE(key);
    use("dream");
    edit([&](json& j) { j.erase(key); });
    expect(ErrorCode::kInvalidModel, std::string("missing key '") + key + "'");
  }
}

TEST_F(ConfigErrors, MissingKeysLLaDA) {
  for (const char* key : {"d_model", "n_layers", "n_heads", "vocab_size", "max_sequence_length"}) {
    SCOPED_TRACE(key);
    use("llada");
    edit([&](json& j) { j.erase(key); });
    expect(ErrorCode::kInvalidModel, std::string("missing key '") + key + "'");
  }
}

TEST_F(ConfigErrors, NullCountsAsMissing) {
  edit([](json& j) { j["hidden_size"] = nullptr; });
  expect(ErrorCode::kInvalidModel, "missing key 'hidden_size'");
}

TEST_F(ConfigErrors, NonIntegerOrNegativeDims) {
  const std::vector<json> bad = {64.5,      -64,           0, "64", true, json::array({64}),
                                 1ll << 40, json::object()};
  for (const char* key :
       {"hidden_size", "num_attention_heads", "num_key_value_heads", "num_hidden_layers",
        "intermediate_size", "vocab_size", "max_position_embeddings"}) {
    for (const json& v : bad) {
      SCOPED_TRACE(std::string(key) + " = " + v.dump());
      use("dream");
      edit([&](json& j) { j[key] = v; });
      expect(ErrorCode::kInvalidModel, std::string("'") + key + "' must be a positive integer");
    }
  }
}

TEST_F(ConfigErrors, DeeplyNestedValueIsReportedNotCrashed) {
  // Serialising the offending value into the message recursed once per level.
  const int depth = 1'000'000;
  std::string text = read_file(config_);
  const std::string key = "\"hidden_size\": 64";
  ASSERT_NE(text.find(key), std::string::npos);
  text.replace(text.find(key), key.size(),
               "\"hidden_size\": " + std::string(depth, '[') + std::string(depth, ']'));
  write_bytes(config_, text);
  expect(ErrorCode::kInvalidModel, "JSON nests deeper than");
  // A shallow array still gets the key's own message.
  const std::string deep = std::string(depth, '[') + std::string(depth, ']');
  text.replace(text.find(deep), deep.size(), "[[1]]");
  write_bytes(config_, text);
  expect(ErrorCode::kInvalidModel, "'hidden_size' must be a positive integer, got an array");
}

TEST_F(ConfigErrors, HugeLayerCountFailsOnTheFirstMissingLayer) {
  // 2^30 layers passes the integer check; the checkpoint has 2. The missing layer 2 must be
  // reported before any per-layer storage is sized from the config (that threw bad_alloc).
  edit([](json& j) { j["num_hidden_layers"] = 1 << 30; });
  EXPECT_LOAD_ERROR(load_error(dir_), ErrorCode::kInvalidModel, dir_ + "/model.safetensors",
                    "tensor 'model.layers.2.input_layernorm.weight' is missing");
}

TEST_F(ConfigErrors, HeadsNotDivisibleByKvHeads) {
  edit([](json& j) { j["num_key_value_heads"] = 3; });
  expect(ErrorCode::kInvalidModel, "attention heads (4) must be a multiple of key/value heads (3)");
  edit([](json& j) { j["num_key_value_heads"] = 8; });  // more kv heads than heads
  expect(ErrorCode::kInvalidModel, "must be a multiple of key/value heads (8)");
}

TEST_F(ConfigErrors, HiddenNotDivisibleByHeads) {
  edit([](json& j) { j["num_attention_heads"] = 5; });
  expect(ErrorCode::kInvalidModel, "hidden size 64 is not divisible by the head count");
}

TEST_F(ConfigErrors, OddHeadDim) {
  edit([](json& j) { j["head_dim"] = 15; });
  expect(ErrorCode::kInvalidModel, "head_dim must be even");
}

TEST_F(ConfigErrors, HeadDimTimesHeadsOverflow) {
  // 2^20 heads of 2^20 dims: the product does not fit the int the forward uses.
  edit([](json& j) {
    j["num_attention_heads"] = 1 << 20;
    j["num_key_value_heads"] = 1 << 20;
    j["head_dim"] = 1 << 20;
  });
  expect(ErrorCode::kInvalidModel, "too large");
}

TEST_F(ConfigErrors, HeadDimMismatchingTensorShapes) {
  // Consistent on its own (8 heads x 4 dims) but not with the checkpoint's [64, 64] q_proj
  // (4 heads x 16): caught as a shape error before any forward.
  edit([](json& j) {
    j["num_attention_heads"] = 8;
    j["head_dim"] = 4;
  });
  EXPECT_LOAD_ERROR(load_error(dir_), ErrorCode::kInvalidModel, dir_ + "/model.safetensors",
                    "the config needs [32, 64]");
}

TEST_F(ConfigErrors, BadRopeThetaAndEps) {
  for (const json& v : {json(0), json(-10000.0), json("1e6")}) {
    SCOPED_TRACE(v.dump());
    edit([&](json& j) { j["rope_theta"] = v; });
    expect(ErrorCode::kInvalidModel, "'rope_theta' must be");
  }
  use("dream");
  edit([](json& j) { j["rms_norm_eps"] = -1e-6; });
  expect(ErrorCode::kInvalidModel, "'rms_norm_eps' must be");
}

TEST_F(ConfigErrors, LLaDAMlpRatio) {
  use("llada");
  for (const json& v : {json(-2), json(0), json(1e12), json("2")}) {
    SCOPED_TRACE(v.dump());
    edit([&](json& j) {
      j.erase("mlp_hidden_size");
      j["mlp_ratio"] = v;
    });
    expect(ErrorCode::kInvalidModel, "mlp_ratio");
  }
  // A sane ratio that matches the checkpoint (128 = 2 * 64) loads.
  edit([](json& j) { j["mlp_ratio"] = 2; });
  EXPECT_NO_THROW(load(dir_));
}

TEST_F(ConfigErrors, SpecialIdsOutOfRange) {
  edit([](json& j) { j["mask_token_id"] = 512; });
  expect(ErrorCode::kInvalidModel, "mask token id 512 is outside the vocabulary of 512");
  use("dream");
  edit([](json& j) { j["bos_token_id"] = 9999; });
  expect(ErrorCode::kInvalidModel, "bos token id 9999 is outside the vocabulary");
  use("dream");
  edit([](json& j) { j["pad_token_id"] = 513; });
  expect(ErrorCode::kInvalidModel, "pad token id 513 is outside the vocabulary");
  use("dream");
  edit([](json& j) { j["mask_token_id"] = -3; });
  expect(ErrorCode::kInvalidModel, "'mask_token_id' must hold token ids");
  // 2^32 + 1 must not wrap around to the valid id 1.
  use("dream");
  edit([](json& j) { j["mask_token_id"] = (1ll << 32) + 1; });
  expect(ErrorCode::kInvalidModel, "'mask_token_id' must hold token ids");
}

TEST_F(ConfigErrors, EndTokenOutOfRangeInGenerationConfig) {
  // Named after the file the id came from, not config.json.
  const std::string gen = dir_ + "/generation_config.json";
  edit_json(gen, [](json& j) { j["eos_token_id"] = {504, 600}; });
  EXPECT_LOAD_ERROR(load_error(dir_), ErrorCode::kInvalidModel, gen,
                    "end token id 600 is outside the vocabulary of 512");
}

TEST_F(ConfigErrors, MaskTokenFromTokenizerOutOfRange) {
  // No mask_token_id in config.json: the id comes from tokenizer.json's added tokens.
  const std::string tok = dir_ + "/tokenizer.json";
  edit([](json& j) { j.erase("mask_token_id"); });
  ASSERT_NO_THROW(load(dir_));
  edit_json(tok, [](json& j) {
    for (auto& t : j["added_tokens"]) {
      if (t["content"] == "<|mask|>") t["id"] = 700;
    }
  });
  EXPECT_LOAD_ERROR(load_error(dir_), ErrorCode::kInvalidModel, tok,
                    "mask token id 700 is outside the vocabulary");
}

TEST_F(ConfigErrors, UnsupportedActivationAndSlidingWindow) {
  edit([](json& j) { j["hidden_act"] = "gelu"; });
  expect(ErrorCode::kUnsupported, "hidden_act 'gelu'");
  use("dream");
  edit([](json& j) {
    j["use_sliding_window"] = true;
    j["sliding_window"] = 64;
  });
  expect(ErrorCode::kUnsupported, "sliding-window attention");
}

TEST_F(ConfigErrors, HugeMaxPositionsLoadsWithoutAHugeRopeTable) {
  // The RoPE table used to be built for every position up front: 2^30 positions would allocate
  // tens of GiB. It is now sized to what the sessions use.
  edit([](json& j) { j["max_position_embeddings"] = 1 << 30; });
  auto m = load(dir_);
  EXPECT_EQ(m->config().max_positions, 1 << 30);
  std::vector<float> huge = logits_of(*m);
  auto ref = load(copy_model("dream"));
  EXPECT_EQ(huge, logits_of(*ref));
}

// --- tensors vs config ---------------------------------------------------------------------

class TensorErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = copy_model("dream");
    file_ = dir_ + "/model.safetensors";
    ckpt_ = StCheckpoint::read(file_);
  }
  std::string dir_, file_;
  StCheckpoint ckpt_;
};

TEST_F(TensorErrors, TensorMissing) {
  for (const char* name :
       {"model.layers.1.mlp.up_proj.weight", "model.embed_tokens.weight", "model.norm.weight",
        "lm_head.weight", "model.layers.0.self_attn.q_proj.bias"}) {
    SCOPED_TRACE(name);
    StCheckpoint c = ckpt_;
    c.tensors.erase(name);
    c.write(file_);
    EXPECT_LOAD_ERROR(load_error(dir_), ErrorCode::kInvalidModel, file_,
                      std::string("tensor '") + name + "' is missing");
  }
}

TEST_F(TensorErrors, WrongShapeInFile) {
  ckpt_.tensors["model.layers.0.mlp.gate_proj.weight"].shape = {64, 128};  // transposed
  ckpt_.write(file_);
  EXPECT_LOAD_ERROR(load_error(dir_), ErrorCode::kInvalidModel, file_,
                    "tensor 'model.layers.0.mlp.gate_proj.weight' has shape [64, 128], the config "
                    "needs [128, 64]");
}

TEST_F(TensorErrors, WrongRank) {
  ckpt_.tensors["model.norm.weight"].shape = {1, 64};
  ckpt_.write(file_);
  EXPECT_LOAD_ERROR(load_error(dir_), ErrorCode::kInvalidModel, file_,
                    "tensor 'model.norm.weight' has shape [1, 64], the config needs [64]");
}

TEST_F(TensorErrors, WrongShapeForConfig) {
  edit_json(dir_ + "/config.json", [](json& j) { j["intermediate_size"] = 96; });
  EXPECT_LOAD_ERROR(load_error(dir_), ErrorCode::kInvalidModel, file_,
                    "has shape [128, 64], the config needs [96, 64]");
  edit_json(dir_ + "/config.json", [](json& j) {
    j["intermediate_size"] = 128;
    j["vocab_size"] = 600;
  });
  EXPECT_LOAD_ERROR(load_error(dir_), ErrorCode::kInvalidModel, file_,
                    "the config needs [600, 64]");
}

TEST_F(TensorErrors, MisalignedDataSectionLoadsAndGivesTheSameLogits) {
  // The format allows any header length; pad it with JSON whitespace so the data section
  // (and every tensor) starts 1 byte past a 4-byte boundary of the page-aligned map.
  const std::vector<float> ref = logits_of(*load(dir_));
  std::string header = ckpt_.header().dump();
  while ((8 + header.size()) % 4 != 1) header += ' ';
  write_raw(file_, header, ckpt_.data());
  EXPECT_EQ(logits_of(*load(dir_)), ref);
}

TEST_F(TensorErrors, MissingWeightsFile) {
  fs::remove(file_);
  EXPECT_LOAD_ERROR(load_error(dir_), ErrorCode::kNotFound, dir_,
                    "no model.safetensors or model.safetensors.index.json");
}

// --- sharded checkpoints --------------------------------------------------------------------

class ShardedCheckpoint : public ::testing::Test {
 protected:
  // Splits the fixture's model.safetensors into two shards plus an index, and removes it.
  void SetUp() override {
    dir_ = copy_model("dream");
    StCheckpoint all = StCheckpoint::read(dir_ + "/model.safetensors");
    StCheckpoint a, b;
    for (const auto& [name, e] : all.tensors) {
      const bool first = name < "model.layers.1";
      (first ? a : b).tensors[name] = e;
      index_["weight_map"][name] = first ? kShard1 : kShard2;
    }
    index_["metadata"]["total_size"] = all.data().size();
    a.write(dir_ + "/" + kShard1);
    b.write(dir_ + "/" + kShard2);
    fs::rename(dir_ + "/model.safetensors", dir_ + "/single.safetensors");
    write_index();
  }
  void write_index() { write_json(dir_ + "/model.safetensors.index.json", index_); }
  std::string index_path() const { return dir_ + "/model.safetensors.index.json"; }

  static constexpr const char* kShard1 = "model-00001-of-00002.safetensors";
  static constexpr const char* kShard2 = "model-00002-of-00002.safetensors";
  std::string dir_;
  json index_;
};

TEST_F(ShardedCheckpoint, LoadsAndMatchesTheSingleFile) {
  auto sharded = load(dir_);
  LoadOptions single;
  single.weights = "single.safetensors";
  auto one = load(dir_, single);
  EXPECT_EQ(logits_of(*sharded), logits_of(*one));
  EXPECT_EQ(sharded->parameter_count(), one->parameter_count());
}

TEST_F(ShardedCheckpoint, MissingShard) {
  fs::remove(dir_ + "/" + kShard2);
  EXPECT_LOAD_ERROR(load_error(dir_), ErrorCode::kNotFound, dir_ + "/" + kShard2, "cannot open");
}

TEST_F(ShardedCheckpoint, TensorListedButAbsent) {
  index_["weight_map"]["model.layers.9.mlp.up_proj.weight"] = kShard2;
  write_index();
  EXPECT_LOAD_ERROR(load_error(dir_), ErrorCode::kInvalidModel, index_path(),
                    "tensor 'model.layers.9.mlp.up_proj.weight' is listed but missing");
}

TEST_F(ShardedCheckpoint, TensorAbsentFromEveryShard) {
  // Not listed and not present: the model's own check names it.
  index_["weight_map"].erase("model.norm.weight");
  write_index();
  StCheckpoint b = StCheckpoint::read(dir_ + "/" + kShard2);
  b.tensors.erase("model.norm.weight");
  b.write(dir_ + "/" + kShard2);
  EXPECT_LOAD_ERROR(load_error(dir_), ErrorCode::kInvalidModel, dir_,
                    "tensor 'model.norm.weight' is missing");
}

TEST_F(ShardedCheckpoint, TensorInTwoShards) {
  StCheckpoint b = StCheckpoint::read(dir_ + "/" + kShard2);
  StCheckpoint a = StCheckpoint::read(dir_ + "/" + kShard1);
  b.tensors["lm_head.weight"] = a.tensors["lm_head.weight"];
  b.write(dir_ + "/" + kShard2);
  EXPECT_LOAD_ERROR(load_error(dir_), ErrorCode::kInvalidModel, dir_ + "/" + kShard2,
                    "tensor 'lm_head.weight' appears in two shards");
}

TEST_F(ShardedCheckpoint, ShardNameMustBeAPlainFileName) {
  for (const char* bad :
       {"../model-00002-of-00002.safetensors", "sub/x.safetensors", "/etc/passwd", "..", ""}) {
    SCOPED_TRACE(bad);
    json saved = index_;
    index_["weight_map"]["model.norm.weight"] = bad;
    write_index();
    EXPECT_LOAD_ERROR(load_error(dir_), ErrorCode::kInvalidModel, index_path(),
                      "must be a plain file name in the folder");
    index_ = saved;
  }
}

TEST_F(ShardedCheckpoint, BadIndex) {
  write_bytes(index_path(), "{\"weight_map\": ");
  EXPECT_LOAD_ERROR(load_error(dir_), ErrorCode::kInvalidModel, index_path(), "invalid JSON");
  write_json(index_path(), json{{"metadata", json::object()}});
  EXPECT_LOAD_ERROR(load_error(dir_), ErrorCode::kInvalidModel, index_path(),
                    "missing object 'weight_map'");
  write_json(index_path(), json{{"weight_map", {{"lm_head.weight", 3}}}});
  EXPECT_LOAD_ERROR(load_error(dir_), ErrorCode::kInvalidModel, index_path(),
                    "weight_map values must be strings");
}

TEST_F(ShardedCheckpoint, MalformedShardIsNamed) {
  const std::string s2 = dir_ + "/" + kShard2;
  std::string bytes = read_file(s2);
  write_bytes(s2, bytes.substr(0, bytes.size() / 2));
  EXPECT_LOAD_ERROR(load_error(dir_), ErrorCode::kInvalidModel, s2, "out of range");
}

// --- --weights -----------------------------------------------------------------------------

class WeightsOption : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = copy_model("dream"); }
  Error load_with(const std::string& weights) {
    LoadOptions o;
    o.weights = weights;
    return load_error(dir_, o);
  }
  std::string dir_;
};

TEST_F(WeightsOption, PicksAnotherFileInTheFolder) {
  LoadOptions o;
  o.weights = "model.bf16.safetensors";
  auto m = load(dir_, o);
  EXPECT_EQ(m->weight_dtype(), DType::kBF16);
  o.weights = dir_ + "/model.bf16.safetensors";  // absolute works too
  EXPECT_EQ(load(dir_, o)->weight_dtype(), DType::kBF16);
}

TEST_F(WeightsOption, RelativeNameResolvesInTheModelFolderFirst) {
  // A same-named file in the working directory must not shadow the one in the model folder.
  const fs::path cwd = fs::current_path();
  const fs::path other = fs::path(dir_) / "cwd";
  fs::create_directories(other);
  write_bytes((other / "model.bf16.safetensors").string(), "junk");
  fs::current_path(other);
  LoadOptions o;
  o.weights = "model.bf16.safetensors";
  std::shared_ptr<Model> m;
  EXPECT_NO_THROW(m = load(dir_, o));
  fs::current_path(cwd);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->weight_dtype(), DType::kBF16);
}

TEST_F(WeightsOption, MissingFile) {
  EXPECT_LOAD_ERROR(load_with("nope.safetensors"), ErrorCode::kNotFound, "nope.safetensors",
                    "cannot open");
}

TEST_F(WeightsOption, NotASafetensorsFile) {
  // config.json's first 8 bytes read as a header length far beyond the limit.
  EXPECT_LOAD_ERROR(load_with("config.json"), ErrorCode::kInvalidModel, dir_ + "/config.json",
                    "exceeds the limit");
  write_bytes(dir_ + "/tiny.bin", "abc");
  EXPECT_LOAD_ERROR(load_with("tiny.bin"), ErrorCode::kInvalidModel, dir_ + "/tiny.bin",
                    "truncated file");
}

TEST_F(WeightsOption, ADirectory) {
  EXPECT_LOAD_ERROR(load_with(dir_), ErrorCode::kInvalidModel, dir_, "not a regular file");
}

TEST_F(WeightsOption, AnotherModelsCheckpoint) {
  // LLaDA's weights for Dream's config: names differ, so the first lookup fails naming the file.
  const std::string llada = model_dir("llada") + "/model.safetensors";
  EXPECT_LOAD_ERROR(load_with(llada), ErrorCode::kInvalidModel, llada,
                    "tensor 'model.embed_tokens.weight' is missing");
}

}  // namespace
}  // namespace dlx::test
