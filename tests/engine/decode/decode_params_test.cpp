// DecodeParams: parsing of every key, family defaults, and one test per validation error.
#include <gtest/gtest.h>

#include "engine/decode/decode_params.h"
#include "engine/util/error.h"
#include "tests/support/test_util.h"

namespace dlx::test {
namespace {

ModelConfig config(const std::string& family) { return load_model_config(model_dir(family)); }

// Expects validate() to throw an error naming `param`.
void expect_invalid(const DecodeParams& p, const ModelConfig& c, int prompt_len,
                    const std::string& param, ErrorCode code = ErrorCode::kInvalidArgument) {
  try {
    validate(p, c, prompt_len);
    FAIL() << "expected an error naming " << param;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_EQ(e.param(), param) << e.what();
    EXPECT_NE(std::string(e.what()).find(param), std::string::npos) << e.what();
  }
}

TEST(DecodeParams, EveryKeyParsesFromText) {
  DecodeParams p;
  set_param(p, "gen_length", "64");
  set_param(p, "block_length", "16");
  set_param(p, "steps", "32");
  set_param(p, "schedule", "timestep");
  set_param(p, "eps", "0.01");
  set_param(p, "confidence", "neg_entropy");
  set_param(p, "commit", "threshold_or_schedule");
  set_param(p, "threshold", "0.7");
  set_param(p, "sub_block_length", "8");
  set_param(p, "cache", "dual");
  set_param(p, "temperature", "0.5");
  set_param(p, "top_k", "20");
  set_param(p, "top_p", "0.9");
  set_param(p, "cfg_scale", "1.5");
  set_param(p, "seed", "42");
  set_param(p, "stop_at_eos", "false");
  EXPECT_EQ(p.gen_length, 64);
  EXPECT_EQ(p.block_length, 16);
  EXPECT_EQ(p.steps, 32);
  EXPECT_EQ(p.schedule, Schedule::kTimestep);
  EXPECT_DOUBLE_EQ(p.eps, 0.01);
  EXPECT_EQ(p.confidence, ConfidenceKind::kNegEntropy);
  EXPECT_EQ(p.commit, CommitRule::kThresholdOrSchedule);
  EXPECT_DOUBLE_EQ(p.threshold, 0.7);
  EXPECT_EQ(p.sub_block_length, 8);
  EXPECT_EQ(p.cache, CacheMode::kDual);
  EXPECT_DOUBLE_EQ(p.temperature, 0.5);
  EXPECT_EQ(p.top_k, 20);
  EXPECT_DOUBLE_EQ(p.top_p, 0.9);
  EXPECT_DOUBLE_EQ(p.cfg_scale, 1.5);
  EXPECT_EQ(p.seed, 42u);
  EXPECT_FALSE(p.stop_at_eos);
  set_param(p, "steps", "null");
  EXPECT_FALSE(p.steps.has_value());
  // Round trip through JSON.
  DecodeParams q;
  apply_json(q, to_json(p));
  EXPECT_EQ(to_json(q), to_json(p));
}

TEST(DecodeParams, BadValuesNameTheKey) {
  DecodeParams p;
  for (auto [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"gen_length", "abc"}, {"schedule", "cosine"}, {"confidence", "max"},
           {"commit", "all"}, {"cache", "full"}, {"stop_at_eos", "maybe"}, {"seed", "-1"},
           {"threshold", "nan"}, {"unknown_key", "1"}}) {
    try {
      set_param(p, key, value);
      FAIL() << key << "=" << value;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_EQ(e.param(), key);
    }
  }
  EXPECT_THROW(apply_json(p, nlohmann::json{{"gen_length", "32"}}), Error);
  EXPECT_THROW(apply_json(p, nlohmann::json{{"gen_length", 3.5}}), Error);
  EXPECT_THROW(apply_json(p, nlohmann::json{{"cache", 1}}), Error);
  EXPECT_THROW(apply_json(p, nlohmann::json::array()), Error);
  apply_json(p, nlohmann::json{{"gen_length", 32.0}});
  EXPECT_EQ(p.gen_length, 32);
}

TEST(DecodeParams, FamilyDefaultsAreValid) {
  for (const char* fam : {"llada", "dream", "sdar", "fast_dllm_v2"}) {
    ModelConfig c = config(fam);
    DecodeParams p = default_decode_params(c);
    EXPECT_NO_THROW(validate(p, c, 8)) << fam;
  }
  EXPECT_EQ(default_decode_params(config("sdar")).cache, CacheMode::kBlock);
  EXPECT_EQ(default_decode_params(config("sdar")).block_length, 4);  // config block_size
  EXPECT_EQ(default_decode_params(config("fast_dllm_v2")).block_length, 8);  // config bd_size
  EXPECT_EQ(default_decode_params(config("fast_dllm_v2")).commit, CommitRule::kThreshold);
  EXPECT_EQ(default_decode_params(config("dream")).schedule, Schedule::kTimestep);
  // Dream's one block follows any gen_length.
  DecodeParams d = default_decode_params(config("dream"));
  d.gen_length = 8;
  EXPECT_NO_THROW(validate(d, config("dream"), 4));
  EXPECT_EQ(effective_block_length(d), 8);
}

// generation_config.json's max_new_tokens is the model's own default canvas; LLaDA keeps blocks
// of 32 where they tile it and makes any other canvas one block.
TEST(DecodeParams, MaxNewTokensSetsTheDefaultCanvas) {
  ModelConfig c = config("llada");
  EXPECT_EQ(default_decode_params(c).gen_length, 128);  // the fixture ships no max_new_tokens
  for (auto [max_new, block] : {std::pair{32, 32}, std::pair{64, 32}, std::pair{24, 24}}) {
    c.gen_max_new_tokens = max_new;
    const DecodeParams p = default_decode_params(c);
    EXPECT_EQ(p.gen_length, max_new);
    EXPECT_EQ(p.block_length, block) << max_new;
    EXPECT_NO_THROW(validate(p, c, 8)) << max_new;
  }
  ModelConfig d = config("dream");
  d.gen_max_new_tokens = 48;
  EXPECT_EQ(default_decode_params(d).gen_length, 48);
  EXPECT_EQ(effective_block_length(default_decode_params(d)), 48);
}

TEST(DecodeParamsValidate, EachErrorNamesItsParameter) {
  ModelConfig llada = config("llada"), sdar = config("sdar"), fdl = config("fast_dllm_v2");
  DecodeParams base = default_decode_params(llada);
  base.gen_length = 32;
  base.block_length = 8;
  base.steps = 32;
  {
    DecodeParams p = base;
    p.steps = 30;  // 4 blocks
    expect_invalid(p, llada, 8, "steps");
  }
  {
    DecodeParams p = base;
    p.block_steps = 8;  // both
    expect_invalid(p, llada, 8, "steps");
  }
  {
    DecodeParams p = base;
    p.threshold = 0;
    expect_invalid(p, llada, 8, "threshold");
    p.threshold = 1.5;
    expect_invalid(p, llada, 8, "threshold");
  }
  {
    DecodeParams p = base;
    p.gen_length = 0;
    expect_invalid(p, llada, 8, "gen_length");
    p.gen_length = -4;
    expect_invalid(p, llada, 8, "gen_length");
  }
  {
    DecodeParams p = base;
    p.block_length = -1;
    expect_invalid(p, llada, 8, "block_length");
    p.block_length = 0;  // one block over the canvas
    EXPECT_NO_THROW(validate(p, llada, 8));
    p.block_length = 5;  // does not divide gen_length: six full blocks and a partial one of 2
    p.steps = 35;        // 7 blocks x 5 steps
    EXPECT_NO_THROW(validate(p, llada, 8));
    p.steps = 32;  // does not divide over the 7 blocks
    expect_invalid(p, llada, 8, "steps");
  }
  {
    DecodeParams p = base;
    p.steps = 0;
    expect_invalid(p, llada, 8, "steps");
    p.steps = 1 << 30;
    expect_invalid(p, llada, 8, "steps");
    p.steps.reset();
    p.block_steps = -1;
    expect_invalid(p, llada, 8, "block_steps");
  }
  {
    DecodeParams p = base;
    p.gen_length = 512;
    p.block_length = 8;
    p.steps = 512;
    expect_invalid(p, llada, 8, "gen_length", ErrorCode::kOutOfRange);  // 520 > 512 positions
  }
  {
    DecodeParams p = base;
    p.top_p = 0;
    expect_invalid(p, llada, 8, "top_p");
    p.top_p = 1.01;
    expect_invalid(p, llada, 8, "top_p");
  }
  {
    DecodeParams p = base;
    p.top_k = -1;
    expect_invalid(p, llada, 8, "top_k");
  }
  {
    DecodeParams p = base;
    p.temperature = -0.1;
    expect_invalid(p, llada, 8, "temperature");
  }
  {
    DecodeParams p = base;
    p.eps = 0;
    expect_invalid(p, llada, 8, "eps");
  }
  {
    DecodeParams p = base;
    p.cache = CacheMode::kBlock;  // LLaDA is bidirectional
    expect_invalid(p, llada, 8, "cache");
  }
  {
    DecodeParams p = default_decode_params(sdar);
    p.cache = CacheMode::kPrefix;  // SDAR has an exact block cache instead
    expect_invalid(p, sdar, 8, "cache");
    p = default_decode_params(sdar);
    p.block_length = 0;  // block-aligned families need a real block size
    expect_invalid(p, sdar, 8, "block_length");
    p = default_decode_params(sdar);
    p.cfg_scale = 1.0;
    expect_invalid(p, sdar, 8, "cfg_scale");
  }
  {
    DecodeParams p = base;
    p.cfg_scale = 1.0;
    p.cache = CacheMode::kDual;
    expect_invalid(p, llada, 8, "cfg_scale");
    p.cfg_scale = -1;
    p.cache = CacheMode::kNone;
    expect_invalid(p, llada, 8, "cfg_scale");
  }
  {
    DecodeParams p = default_decode_params(fdl);
    p.sub_block_length = 3;  // does not divide 8
    expect_invalid(p, fdl, 8, "sub_block_length");
  }
  expect_invalid(base, llada, 0, "prompt");
}

}  // namespace
}  // namespace dlx::test
