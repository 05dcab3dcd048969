// describe_model reads a folder without loading it: what the service's model entry and the
// playground's first screen come from (issue #23: Chat mode for models with a chat template).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/engine.h"
#include "tests/support/test_util.h"

namespace dlx {
namespace {

namespace fs = std::filesystem;

// A copy of a fixture folder with tokenizer_config.json replaced by `config` ("" removes it).
fs::path copy_with_tokenizer_config(const std::string& family, const std::string& config) {
  const fs::path dir = fs::temp_directory_path() /
                       ("dlx_describe_" + family + "_" + std::to_string(::getpid()) + "_" +
                        std::to_string(std::hash<std::string>{}(config)));
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

}  // namespace
}  // namespace dlx
