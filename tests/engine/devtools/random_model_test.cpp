// Random models (make-random-model): every family's folder loads and runs, config.json has the
// same keys as the family's real checkpoints (the fixtures copy them), special tokens and the
// BPE tokenizer agree with the config, weights are deterministic per seed and independent of
// sharding, and the CLI reports bad flags as usage errors.
#include "engine/devtools/random_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/support/test_util.h"

namespace dlx {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A fresh folder under the test temp dir, removed at the end of the test.
class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(::testing::TempDir() + "/dlx_random_" + std::to_string(::getpid()) + "_" + name) {
    fs::remove_all(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

json read_json(const std::string& path) {
  return json::parse(test::read_file(path));
}

std::set<std::string> keys(const json& j) {
  std::set<std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it) out.insert(it.key());
  return out;
}

RandomModelOptions tiny(const char* family, const std::string& dir) {
  RandomModelOptions o;
  o.family = find_arch_spec_by_name(family);
  o.preset = "tiny";
  o.out_dir = dir;
  o.threads = 2;
  return o;
}

// Logits of one forward over `ids` (the family's own attention).
std::vector<float> logits(const std::string& dir, const std::vector<int32_t>& ids) {
  auto m = Model::load(dir, make_cpu_backend(2));
  Session st =
      m->new_session(static_cast<int64_t>(ids.size()), static_cast<int64_t>(ids.size()));
  ForwardSpan span;
  span.ids = ids;
  span.block_size =
      m->spec().attention == AttentionKind::kBlockCausal ? m->config().train_block_size : 0;
  const float* l = m->forward(st, span);
  return std::vector<float>(l, l + ids.size() * m->config().vocab);
}

class EveryFamily : public ::testing::TestWithParam<const char*> {};

TEST_P(EveryFamily, TinyFolderLoadsRunsAndMatchesTheRealKeySet) {
  const char* family = GetParam();
  TempDir dir(family);
  for (DType dt : {DType::kF32, DType::kBF16, DType::kF16}) {
    SCOPED_TRACE(dtype_name(dt));
    RandomModelOptions o = tiny(family, dir.path());
    o.dtype = dt;
    const RandomModelInfo info = write_random_model(o);
    EXPECT_GT(info.parameters, 0);
    const std::vector<float> l = logits(dir.path(), {1, 2, 3, 4, 5, 6, 7, 8, 9});
    for (float v : l) ASSERT_TRUE(std::isfinite(v));
    auto m = Model::load(dir.path(), make_cpu_backend(1));
    EXPECT_EQ(m->weight_dtype(), dt);
    EXPECT_EQ(m->parameter_count(), info.parameters);
  }
  // config.json and generation_config.json keys are exactly those of the family's checkpoints.
  const std::string fix = test::model_dir(family);
  EXPECT_EQ(keys(read_json(dir.path() + "/config.json")), keys(read_json(fix + "/config.json")));
  EXPECT_EQ(keys(read_json(dir.path() + "/generation_config.json")),
            keys(read_json(fix + "/generation_config.json")));
  EXPECT_EQ(keys(read_json(dir.path() + "/tokenizer_config.json")),
            keys(read_json(fix + "/tokenizer_config.json")));
}

TEST_P(EveryFamily, SpecialTokensAgreeWithTheConfigAndTheTokenizerRoundTrips) {
  const char* family = GetParam();
  TempDir dir(family);
  write_random_model(tiny(family, dir.path()));
  const ModelConfig c = load_model_config(dir.path());
  auto tok = Tokenizer::load(dir.path());
  const ArchSpec& spec = *c.spec;
  const std::string mask_text =
      c.spec->family == Family::kSDAR ? "<MASK>" : spec.mask_token;  // SDAR's real token text
  EXPECT_EQ(tok->token_to_id(mask_text), c.mask_id);
  EXPECT_TRUE(c.is_end_token(tok->token_to_id(spec.end_of_turn)));  // end-of-turn ends a turn
  for (int32_t id : c.eos_ids) EXPECT_LT(id, c.vocab);
  const std::string text = "The quick brown fox writes 2025 tokens: a diffusion model!";
  const std::vector<int32_t> ids = tok->encode(text);
  EXPECT_LT(ids.size(), text.size());  // the merges shorten ordinary text
  EXPECT_EQ(tok->decode(ids), text);
  for (int32_t id : ids) EXPECT_LT(id, c.vocab);
  // The mask token's text encodes to the single mask id.
  EXPECT_EQ(tok->encode(mask_text), std::vector<int32_t>{c.mask_id});
}

INSTANTIATE_TEST_SUITE_P(Families, EveryFamily,
                         ::testing::Values("llada", "dream", "sdar", "fast_dllm_v2"));

TEST(RandomModel, SameSeedSameBytesOtherSeedOtherWeights) {
  TempDir a("seed_a"), b("seed_b"), c("seed_c");
  RandomModelOptions o = tiny("dream", a.path());
  o.seed = 5;
  write_random_model(o);
  o.out_dir = b.path();
  o.threads = 1;  // thread count must not change the numbers
  write_random_model(o);
  o.out_dir = c.path();
  o.seed = 6;
  write_random_model(o);
  const std::string wa = test::read_file(a.path() + "/model.safetensors");
  EXPECT_EQ(wa, test::read_file(b.path() + "/model.safetensors"));
  EXPECT_NE(wa, test::read_file(c.path() + "/model.safetensors"));
}

TEST(RandomModel, ShardsGetAnIndexAndGiveTheSameLogits) {
  TempDir one("one"), many("many");
  write_random_model(tiny("sdar", one.path()));
  RandomModelOptions o = tiny("sdar", many.path());
  o.shard_bytes = 100'000;
  const RandomModelInfo info = write_random_model(o);
  const json index = read_json(many.path() + "/model.safetensors.index.json");
  std::set<std::string> shards;
  for (const auto& [name, file] : index["weight_map"].items())
    shards.insert(file.get<std::string>());
  EXPECT_GT(shards.size(), 2u);
  EXPECT_TRUE(shards.count("model-00001-of-0000" + std::to_string(shards.size()) + ".safetensors"));
  EXPECT_EQ(index["metadata"]["total_size"].get<uint64_t>(), info.weight_bytes);
  std::map<std::string, int> tensors_in;
  for (const auto& [name, file] : index["weight_map"].items())
    ++tensors_in[file.get<std::string>()];
  for (const std::string& s : shards) {
    // A shard stays under the limit (plus its JSON header) unless one tensor alone exceeds it.
    const auto size = fs::file_size(many.path() + "/" + s);
    EXPECT_TRUE(size <= 100'000 + 16'384 || tensors_in[s] == 1) << s << ": " << size << " bytes";
  }
  EXPECT_FALSE(fs::exists(many.path() + "/model.safetensors"));
  const std::vector<int32_t> ids = {9, 8, 7, 6, 5};
  EXPECT_EQ(logits(one.path(), ids), logits(many.path(), ids));

  // Writing the single-file layout over the sharded folder removes the stale shards.
  o.shard_bytes = 2'000'000'000;
  write_random_model(o);
  for (const std::string& s : shards) EXPECT_FALSE(fs::exists(many.path() + "/" + s)) << s;
  EXPECT_FALSE(fs::exists(many.path() + "/model.safetensors.index.json"));
}

TEST(RandomModel, PresetsHaveTheirRealShapes) {
  const RandomModelPreset* q = find_random_model_preset("qwen2.5-0.5b");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->hidden, 896);
  EXPECT_EQ(q->layers, 24);
  EXPECT_EQ(q->heads, 14);
  EXPECT_EQ(q->kv_heads, 2);
  EXPECT_EQ(q->intermediate, 4864);
  EXPECT_EQ(q->vocab, 151936);
  EXPECT_TRUE(q->tie_embeddings);
  const RandomModelPreset* s = find_random_model_preset("qwen3-1.7b");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->hidden, 2048);
  EXPECT_EQ(s->layers, 28);
  EXPECT_EQ(s->heads, 16);
  EXPECT_EQ(s->kv_heads, 8);
  EXPECT_EQ(s->head_dim, 128);
  EXPECT_EQ(s->intermediate, 6144);
  EXPECT_NE(find_random_model_preset("llada-1b"), nullptr);
  EXPECT_EQ(find_random_model_preset("gpt-5"), nullptr);
}

TEST(RandomModel, CliRejectsBadFlagsWithUsageErrors) {
  TempDir dir("cli");
  const std::string bin = test::binary() + " make-random-model";
  EXPECT_EQ(test::run(bin + " --family gpt --preset tiny --out " + dir.path()).exit_code, 2);
  EXPECT_EQ(test::run(bin + " --family dream --preset huge --out " + dir.path()).exit_code, 2);
  EXPECT_EQ(
      test::run(bin + " --family dream --preset tiny --dtype i32 --out " + dir.path()).exit_code,
      2);
  EXPECT_EQ(test::run(bin + " --family dream --preset tiny").exit_code, 2);
  const test::RunResult ok =
      test::run(bin + " --family llada --preset tiny --dtype bf16 --seed 3 --out " + dir.path());
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  const json summary = json::parse(test::last_line(ok.out));
  EXPECT_EQ(summary["family"], "llada");
  EXPECT_EQ(summary["dtype"], "bf16");
  EXPECT_GT(summary["parameters"].get<int64_t>(), 0);
}

}  // namespace
}  // namespace dlx
