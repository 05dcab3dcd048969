// Hostile tokenizer.json files: deep nesting (e.g. a Sequence pre-tokenizer nested 100,000
// levels, which used to overflow the stack at load) is an Error naming the file; so are token
// ids that are not ids (floats, huge values: found by tests/fuzz/fuzz_tokenizer).
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

nlohmann::json llada_tokenizer() {
  return nlohmann::json::parse(read_file(model_dir("llada") + "/tokenizer.json"));
}

// The error code of loading `j` (kInternal when it loads).
ErrorCode load_code(const nlohmann::json& j) {
  try {
    Tokenizer::from_json(j, nullptr, "t/tokenizer.json");
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::kInternal;
}

TEST(TokenizerLimits, IdsThatAreNotTokenIdsAreErrorsNotHugeTables) {
  for (const nlohmann::json& id : {nlohmann::json(5.19e21), nlohmann::json(-1),
                                   nlohmann::json(2147483646), nlohmann::json(1.5)}) {
    auto j = llada_tokenizer();
    j["added_tokens"][0]["id"] = id;  // 5.19e21 used to be a float-to-int conversion (UB)
    EXPECT_EQ(load_code(j), ErrorCode::kInvalidModel) << id;
  }
  auto j = llada_tokenizer();
  j["model"]["vocab"]["x"] = 2000000000;  // used to size every per-id table to 2e9 entries
  EXPECT_EQ(load_code(j), ErrorCode::kInvalidModel);
}

TEST(TokenizerLimits, PostProcessorIdsMustBeIdsOfTheVocabulary) {
  auto with_ids = [](const nlohmann::json& ids) {
    auto j = llada_tokenizer();
    j["post_processor"] = {
        {"type", "TemplateProcessing"},
        {"single", {{{"SpecialToken", {{"id", "<s>"}}}}, {{"Sequence", {{"id", "A"}}}}}},
        {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", ids}}}}}};
    return j;
  };
  EXPECT_EQ(load_code(with_ids({1e30})), ErrorCode::kInvalidModel);
  EXPECT_EQ(load_code(with_ids({-3})), ErrorCode::kInvalidModel);
  EXPECT_EQ(load_code(with_ids({99999})), ErrorCode::kInvalidModel);  // beyond the 512 ids
  auto tok = Tokenizer::from_json(with_ids({502}), nullptr, "t/tokenizer.json");
  EXPECT_EQ(tok->encode("a", true).front(), 502);
  auto bert = llada_tokenizer();
  bert["post_processor"] = {
      {"type", "BertProcessing"}, {"cls", {"<s>", 7e40}}, {"sep", {"</s>", 2}}};
  EXPECT_EQ(load_code(bert), ErrorCode::kInvalidModel);
}

}  // namespace
}  // namespace dlx::test
