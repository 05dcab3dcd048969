// describe_model reads a folder without loading it: what the service's model entry and the
// playground's first screen come from (issue #23: Chat mode for models with a chat template).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/engine.h"
#include "engine/util/error.h"
#include "tests/support/test_util.h"

namespace dlx {
namespace {

namespace fs = std::filesystem;

// A copy of a fixture folder with tokenizer_config.json replaced by `config` ("" removes it).
fs::path copy_with_tokenizer_config(const std::string& family, const std::string& config) {
  const fs::path dir =
      fs::temp_directory_path() / ("dlx_describe_" + family + "_" + std::to_string(::getpid()) +
                                   "_" + std::to_string(std::hash<std::string>{}(config)));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& f : fs::directory_iterator(test::model_dir(family))) {
    if (f.is_regular_file()) fs::copy_file(f.path(), dir / f.path().filename());
  }
  fs::remove(dir / "tokenizer_config.json");
  if (!config.empty()) std::ofstream(dir / "tokenizer_config.json") << config;
  return dir;
}

TEST(DescribeModel, SaysWhetherTheTokenizerHasAChatTemplate) {
  const ModelInfo llada = describe_model(test::model_dir("llada"));
  EXPECT_TRUE(llada.has_tokenizer);
  EXPECT_TRUE(llada.has_chat_template);
  EXPECT_GT(llada.max_positions, 0);

  for (const std::string& config :
       {std::string(), std::string("{}"), std::string("{\"chat_template\": \"\"}"),
        std::string("{not json")}) {
    const fs::path dir = copy_with_tokenizer_config("llada", config);
    EXPECT_FALSE(describe_model(dir.string()).has_chat_template) << config;
    // A chat_template.jinja beside it is a template too.
    std::ofstream(dir / "chat_template.jinja") << "{{ messages[0]['content'] }}";
    EXPECT_TRUE(describe_model(dir.string()).has_chat_template) << config;
    fs::remove_all(dir);
  }
}

// generation_config.json's "diffusion" object: the model's own decoding defaults, over the
// family's; a key or value the engine does not take fails the load, naming the file.
TEST(DescribeModel, GenerationConfigDiffusionKeysAreTheModelsDefaults) {
  const fs::path dir = copy_with_tokenizer_config("llada", "{}");
  auto with_gen = [&](const std::string& gen) {
    std::ofstream(dir / "generation_config.json") << gen;
    return describe_model(dir.string());
  };
  const ModelInfo plain = with_gen("{\"max_new_tokens\": 16}");
  EXPECT_EQ(plain.decoding.commit, CommitRule::kSchedule);
  EXPECT_EQ(plain.decoding.gen_length, 16);
  const ModelInfo tuned = with_gen(
      "{\"max_new_tokens\": 16, \"diffusion\": {\"commit\": \"threshold\", \"threshold\": 0.8, "
      "\"steps\": null}}");
  EXPECT_EQ(tuned.decoding.commit, CommitRule::kThreshold);
  EXPECT_DOUBLE_EQ(tuned.decoding.threshold, 0.8);
  EXPECT_EQ(tuned.decoding.gen_length, 16);
  for (const std::string& bad : {std::string("{\"diffusion\": {\"no_such_key\": 1}}"),
                                 std::string("{\"diffusion\": {\"commit\": \"sometimes\"}}"),
                                 std::string("{\"diffusion\": [1]}")}) {
    try {
      with_gen(bad);
      ADD_FAILURE() << bad << " loaded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidModel) << e.what();
      EXPECT_NE(std::string(e.what()).find("generation_config.json"), std::string::npos)
          << e.what();
    }
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dlx
