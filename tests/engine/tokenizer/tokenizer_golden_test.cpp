// The real Qwen3 tokenizer against golden ids from an independent implementation
// (@lenml/tokenizers), and the Qwen3 / LLaDA / Dream chat templates against Python Jinja2's
// renderings (tests/fixtures/.../chat_cases.json).
#include <gtest/gtest.h>

#include <fstream>

#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/utf8.h"
#include "tests/support/test_util.h"

namespace dlx {
namespace {

nlohmann::ordered_json load_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::ordered_json::parse(in);
}

std::string qwen3_dir() {
  return test::fixtures() + "/tokenizers/qwen3";
}

const Tokenizer& qwen3() {
  static const std::shared_ptr<Tokenizer> tok = Tokenizer::load(qwen3_dir());
  return *tok;
}

TEST(Qwen3Tokenizer, EncodesEveryGoldenCaseExactly) {
  const auto cases = load_json(qwen3_dir() + "/encode_cases.json")["cases"];
  ASSERT_GE(cases.size(), 20u);
  for (const auto& c : cases) {
    const std::string text = c["text"];
    EXPECT_EQ(qwen3().encode(text), c["ids"].get<std::vector<int32_t>>()) << text;
    // Every case is already in NFC, so the round trip returns the text itself.
    EXPECT_EQ(qwen3().decode(qwen3().encode(text)), c["decoded"].get<std::string>()) << text;
  }
}

TEST(Qwen3Tokenizer, DecodeOfEncodeIsTheNfcForm) {
  // Decomposed input comes back composed (NFC): e + U+0301 -> é, A + U+030A -> Å,
  // Hangul jamo -> syllable.
  EXPECT_EQ(qwen3().decode(qwen3().encode("caf"
                                          "e\xCC\x81")),
            "caf\xC3\xA9");
  EXPECT_EQ(qwen3().decode(qwen3().encode("A\xCC\x8A ok")), "\xC3\x85 ok");
  EXPECT_EQ(qwen3().decode(qwen3().encode("\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB")), "\xED\x95\x9C");
  EXPECT_EQ(qwen3().encode("caf"
                           "e\xCC\x81"),
            qwen3().encode("caf\xC3\xA9"));
}

TEST(Qwen3Tokenizer, SpecialTokensAndConfig) {
  const TokenizerConfig& c = qwen3().config();
  EXPECT_EQ(c.eos_token, "<|im_end|>");
  EXPECT_EQ(c.eos_token_id, 151645);
  EXPECT_EQ(c.pad_token_id, 151643);
  EXPECT_EQ(c.bos_token_id, -1);
  EXPECT_FALSE(c.add_bos_token);
  EXPECT_FALSE(c.chat_template.empty());
  EXPECT_TRUE(qwen3().is_special(151644));
  EXPECT_FALSE(qwen3().is_special(151657));  // <tool_call> is an added, non-special token
  EXPECT_EQ(qwen3().token_to_id("<tool_call>"), 151657);
  EXPECT_EQ(qwen3().vocab_size(), 151669u);
  // ByteLevel post-processing adds nothing.
  EXPECT_EQ(qwen3().encode("Hello", true), qwen3().encode("Hello", false));
}

TEST(Qwen3Tokenizer, IncrementalDecodingNeverSplitsACharacter) {
  const std::string text =
      "emoji \xF0\x9F\x98\x80\xF0\x9F\x8E\x89\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD done, "
      "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xEC\x95\x88\xEB\x85\x95 <|im_end|>";
  const auto ids = qwen3().encode(text);
  IncrementalDecoder dec(qwen3(), /*skip_special=*/true);
  std::string all;
  for (int32_t id : ids) {
    const std::string chunk = dec.push(std::span<const int32_t>(&id, 1));
    EXPECT_TRUE(utf8::is_valid(chunk));
    EXPECT_EQ(chunk.find("\xEF\xBF\xBD"), std::string::npos) << "a character was split";
    all += chunk;
  }
  all += dec.flush();
  EXPECT_EQ(all, qwen3().decode(ids, true));
  EXPECT_EQ(all + "<|im_end|>", text);
}

struct ChatSet {
  std::string tokenizer;
  std::string cases;
};

class ChatTemplateGolden : public ::testing::TestWithParam<ChatSet> {};

TEST_P(ChatTemplateGolden, RendersEveryCaseExactly) {
  auto tok = Tokenizer::load(GetParam().tokenizer);
  const auto cases = load_json(GetParam().cases)["cases"];
  ASSERT_GE(cases.size(), 3u);
  for (const auto& c : cases) {
    EXPECT_EQ(render_chat(*tok, c["messages"], c["add_generation_prompt"].get<bool>()),
              c["text"].get<std::string>())
        << c["messages"].dump();
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ChatTemplateGolden,
                         ::testing::Values(ChatSet{test::fixtures() + "/tokenizers/qwen3",
                                                   test::fixtures() +
                                                       "/tokenizers/qwen3/chat_cases.json"},
                                           ChatSet{test::model_dir("llada"),
                                                   test::model_dir("llada") + "/chat_cases.json"},
                                           ChatSet{test::model_dir("dream"),
                                                   test::model_dir("dream") + "/chat_cases.json"}));

}  // namespace
}  // namespace dlx
