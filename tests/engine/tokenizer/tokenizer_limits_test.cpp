// Hostile tokenizer.json files: deep nesting (e.g. a Sequence pre-tokenizer nested 100,000
// levels, which used to overflow the stack at load) is an Error naming the file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/tokenizer/tokenizer.h"
#include "engine/util/error.h"
#include "tests/support/test_util.h"

namespace dlx::test {
namespace {
namespace fs = std::filesystem;

// The Qwen3 fixture's tokenizer.json with its pre_tokenizer wrapped in `levels` Sequences.
fs::path nested_sequence_tokenizer(int levels) {
  const fs::path dir = fs::temp_directory_path() /
                       ("dlx_tok_limits_" + std::to_string(::getpid())) / std::to_string(levels);
  fs::create_directories(dir);
  const std::string text = read_file(fixtures() + "/tokenizers/qwen3/tokenizer.json");
  nlohmann::json j = nlohmann::json::parse(text);
  const std::string inner = j["pre_tokenizer"].dump();
  j.erase("pre_tokenizer");
  std::string body = j.dump();
  std::string wrapped;
  for (int k = 0; k < levels; ++k) wrapped += R"({"type":"Sequence","pretokenizers":[)";
  wrapped += inner;
  for (int k = 0; k < levels; ++k) wrapped += "]}";
  body.insert(1, "\"pre_tokenizer\":" + wrapped + ",");
  std::ofstream(dir / "tokenizer.json") << body;
  return dir;
}

TEST(TokenizerLimits, DeeplyNestedSequenceIsAnErrorNotACrash) {
  try {
    Tokenizer::load(nested_sequence_tokenizer(100000).string());
    FAIL() << "loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("nests deeper than 512"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tokenizer.json"), std::string::npos) << e.what();
  }
}

TEST(TokenizerLimits, ModestNestingStillLoadsAndEncodesTheSame) {
  auto plain = Tokenizer::load(fixtures() + "/tokenizers/qwen3");
  auto nested = Tokenizer::load(nested_sequence_tokenizer(20).string());
  EXPECT_EQ(nested->encode("Hello world, 123!"), plain->encode("Hello world, 123!"));
}

}  // namespace
}  // namespace dlx::test
