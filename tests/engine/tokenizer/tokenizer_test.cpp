// Tokenizer components on small synthetic tokenizer.json files (merges in both forms, rank
// order, ignore_merges, added-token options, post-processing, unsupported component errors,
// invalid UTF-8, streaming decode) and on the tiny fixture models' own tokenizers.
#include "engine/tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/utf8.h"
#include "engine/util/error.h"
#include "tests/support/test_util.h"

namespace dlx {
namespace {

using nlohmann::json;

// The GPT-2 character of byte b, as a string.
std::string ch(unsigned char b) {
  std::string s;
  utf8::append(s, byte_level::byte_to_cp(b));
  return s;
}

// Byte-level string of plain text ("a b" -> "aĠb").
std::string bl(const std::string& text) {
  std::string s;
  byte_level::encode(text, s);
  return s;
}

constexpr const char* kQwenRegex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// A byte-level BPE: ids 0..255 are the bytes, then one id per merge result in merge order.
struct Spec {
  std::vector<std::pair<std::string, std::string>> merges;  // byte-level strings
  bool array_merges = false;
  bool ignore_merges = false;
  json extra_vocab = json::object();  // token -> id
  json added = json::array();
  json post_processor = nullptr;
  json normalizer = {{"type", "NFC"}};
  json pre_tokenizer =
      json{{"type", "Sequence"},
           {"pretokenizers",
            {{{"type", "Split"},
              {"pattern", {{"Regex", kQwenRegex}}},
              {"behavior", "Isolated"},
              {"invert", false}},
             {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  json decoder = {{"type", "ByteLevel"}};
};

json make_json(const Spec& s) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[ch(static_cast<unsigned char>(b))] = b;
  json merges = json::array();
  int next = 256;
  for (const auto& [a, b] : s.merges) {
    if (!vocab.contains(a + b)) vocab[a + b] = next++;
    if (s.array_merges)
      merges.push_back({a, b});
    else
      merges.push_back(a + " " + b);
  }
  for (const auto& [t, id] : s.extra_vocab.items()) vocab[t] = id;
  return {{"version", "1.0"},
          {"added_tokens", s.added},
          {"normalizer", s.normalizer},
          {"pre_tokenizer", s.pre_tokenizer},
          {"post_processor", s.post_processor},
          {"decoder", s.decoder},
          {"model",
           {{"type", "BPE"},
            {"vocab", vocab},
            {"merges", merges},
            {"ignore_merges", s.ignore_merges}}}};
}

std::shared_ptr<Tokenizer> make(const Spec& s, const json& config = nullptr) {
  return Tokenizer::from_json(make_json(s), config, "test/tokenizer.json");
}

json added(const std::string& content, int id, bool special, json opts = json::object()) {
  json a = {{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
            {"rstrip", false}, {"normalized", false}, {"special", special}};
  for (const auto& [k, v] : opts.items()) a[k] = v;
  return a;
}

std::vector<int32_t> byte_ids(const std::string& text) {
  std::vector<int32_t> ids;
  for (unsigned char c : text) ids.push_back(c);
  return ids;
}

TEST(Tokenizer, MergesApplyByRankInBothForms) {
  Spec s;
  s.merges = {{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {ch(' '), "w"}};
  for (bool arr : {false, true}) {
    s.array_merges = arr;
    auto t = make(s);
    const int32_t hello = t->token_to_id("hello"), gw = t->token_to_id(bl(" w"));
    ASSERT_GE(hello, 256);
    EXPECT_EQ(t->encode("hello world"), (std::vector<int32_t>{hello, gw, 'o', 'r', 'l', 'd'}));
    EXPECT_EQ(t->decode(t->encode("hello world")), "hello world");
  }
}

TEST(Tokenizer, LowerRankMergesFirstAndTiesGoLeft) {
  Spec s;
  s.merges = {{"b", "c"}, {"a", "b"}};
  auto t = make(s);
  EXPECT_EQ(t->encode("abc"), (std::vector<int32_t>{'a', t->token_to_id("bc")}));
  s.merges = {{"a", "b"}, {"b", "c"}};
  t = make(s);
  EXPECT_EQ(t->encode("abc"), (std::vector<int32_t>{t->token_to_id("ab"), 'c'}));
  s.merges = {{"a", "a"}};
  t = make(s);
  const int32_t aa = t->token_to_id("aa");
  EXPECT_EQ(t->encode("aaa"), (std::vector<int32_t>{aa, 'a'}));
  EXPECT_EQ(t->encode("aaaa"), (std::vector<int32_t>{aa, aa}));
}

TEST(Tokenizer, IgnoreMergesTakesWholeWordsFromTheVocabulary) {
  Spec s;
  s.extra_vocab = {{"xyz", 300}};
  auto t = make(s);
  EXPECT_EQ(t->encode("xyz"), byte_ids("xyz"));  // no merge path to "xyz"
  s.ignore_merges = true;
  t = make(s);
  EXPECT_EQ(t->encode("xyz"), (std::vector<int32_t>{300}));
  EXPECT_EQ(t->encode("xyzw"), byte_ids("xyzw"));
}

TEST(Tokenizer, AddedTokensAreMatchedBeforeSplittingLeftmostLongest) {
  Spec s;
  s.added = {added("<s>", 400, true), added("<a>", 401, true), added("<a><b>", 402, true),
             added("tool", 403, false)};
  auto t = make(s);
  EXPECT_EQ(t->encode("x<s>y"), (std::vector<int32_t>{'x', 400, 'y'}));
  EXPECT_EQ(t->encode("<a><b><a>"), (std::vector<int32_t>{402, 401}));
  EXPECT_EQ(t->encode("mytools"), (std::vector<int32_t>{'m', 'y', 403, 's'}));
  EXPECT_TRUE(t->is_special(400));
  EXPECT_FALSE(t->is_special(403));
  EXPECT_FALSE(t->is_special('x'));
  EXPECT_EQ(t->token_to_id("<a><b>"), 402);
  EXPECT_EQ(t->id_to_token(402), "<a><b>");
  EXPECT_EQ(t->id_to_token(32), ch(' '));
  EXPECT_EQ(t->id_to_token(100000), "");
  EXPECT_EQ(t->token_to_id("nope"), -1);
  EXPECT_EQ(t->vocab_size(), 404u);
  EXPECT_EQ(t->decode(t->encode("x<s>y")), "x<s>y");
  EXPECT_EQ(t->decode(t->encode("x<s>y"), true), "xy");
}

TEST(Tokenizer, AddedTokenStripAndSingleWordOptions) {
  Spec s;
  s.added = {added("<m>", 400, true, {{"lstrip", true}}),
             added("<r>", 401, true, {{"rstrip", true}}),
             added("ok", 402, false, {{"single_word", true}})};
  auto t = make(s);
  EXPECT_EQ(t->encode("a  <m>b"), (std::vector<int32_t>{'a', 400, 'b'}));
  EXPECT_EQ(t->encode("a<r>  b"), (std::vector<int32_t>{'a', 401, 'b'}));
  EXPECT_EQ(t->encode("ok go"), (std::vector<int32_t>{402, ' ', 'g', 'o'}));
  EXPECT_EQ(t->encode("book"), byte_ids("book"));
  EXPECT_EQ(t->encode("oks"), byte_ids("oks"));
}

TEST(Tokenizer, NormalizedAddedTokensMatchAfterNfc) {
  const std::string e_acute = "\xC3\xA9", e_combining = "e\xCC\x81";
  Spec s;
  s.added = json::array({added(e_acute, 400, false, {{"normalized", true}})});
  auto t = make(s);
  EXPECT_EQ(t->encode(e_combining), (std::vector<int32_t>{400}));
  s.added = json::array({added(e_acute, 400, false, {{"normalized", false}})});
  t = make(s);
  EXPECT_EQ(t->encode(e_acute), (std::vector<int32_t>{400}));
  EXPECT_EQ(t->decode(t->encode(e_combining)), e_acute);  // NFC, then plain bytes
}

TEST(Tokenizer, PostProcessorAndConfigAddSpecialTokensOnRequest) {
  Spec s;
  s.added = {added("<s>", 400, true), added("</s>", 401, true)};
  s.post_processor = {
      {"type", "TemplateProcessing"},
      {"single",
       {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
      {"pair", json::array()},
      {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {400}}, {"tokens", {"<s>"}}}}}}};
  auto t = make(s);
  EXPECT_EQ(t->encode("a", true), (std::vector<int32_t>{400, 'a'}));
  EXPECT_EQ(t->encode("a", false), (std::vector<int32_t>{'a'}));
  // add_bos_token/add_eos_token from tokenizer_config.json, BOS not doubled.
  auto t2 = make(s, {{"bos_token", "<s>"},
                     {"eos_token", {{"content", "</s>"}}},
                     {"add_bos_token", true},
                     {"add_eos_token", true}});
  EXPECT_EQ(t2->config().bos_token_id, 400);
  EXPECT_EQ(t2->config().eos_token, "</s>");
  EXPECT_EQ(t2->config().eos_token_id, 401);
  EXPECT_EQ(t2->encode("a", true), (std::vector<int32_t>{400, 'a', 401}));
}

TEST(Tokenizer, SplitBehaviorsFollowHuggingFace) {
  auto split = [](const char* behavior, bool invert) {
    Spec s;
    s.pre_tokenizer = {
        {"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"},
           {"pattern", {{"String", "-"}}},
           {"behavior", behavior},
           {"invert", invert}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
    s.merges = {{"a", "-"}, {"-", "b"}, {"-", "-"}};
    return make(s);
  };
  // "a-b": Isolated [a][-][b]; Removed [a][b]; MergedWithPrevious [a-][b]; MergedWithNext [a][-b].
  auto t = split("Isolated", false);
  EXPECT_EQ(t->encode("a-b"), byte_ids("a-b"));
  EXPECT_EQ(split("Removed", false)->encode("a-b"), byte_ids("ab"));
  t = split("MergedWithPrevious", false);
  EXPECT_EQ(t->encode("a-b"), (std::vector<int32_t>{t->token_to_id("a-"), 'b'}));
  t = split("MergedWithNext", false);
  EXPECT_EQ(t->encode("a-b"), (std::vector<int32_t>{'a', t->token_to_id("-b")}));
  t = split("Contiguous", false);
  EXPECT_EQ(t->encode("a--b"), (std::vector<int32_t>{'a', t->token_to_id("--"), 'b'}));
  t = split("Isolated", false);
  EXPECT_EQ(t->encode("a--b"), byte_ids("a--b"));
}

TEST(Tokenizer, ByteLevelPrefixSpaceAndRegex) {
  Spec s;
  s.pre_tokenizer = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
  s.merges = {{ch(' '), "h"}, {ch(' ') + "h", "i"}};
  auto t = make(s);
  const int32_t ghi = t->token_to_id(bl(" hi"));
  EXPECT_EQ(t->encode("hi hi"), (std::vector<int32_t>{ghi, ghi}));
  EXPECT_EQ(t->decode(t->encode("hi hi")), " hi hi");
}

TEST(Tokenizer, UnsupportedComponentsNameTheirType) {
  auto expect_unsupported = [](const Spec& s, const std::string& type) {
    try {
      make(s);
      ADD_FAILURE() << "no error for " << type;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnsupported) << e.what();
      EXPECT_NE(std::string(e.what()).find("'" + type + "'"), std::string::npos) << e.what();
    }
  };
  Spec s;
  s.normalizer = {{"type", "Lowercase"}};
  expect_unsupported(s, "Lowercase");
  s = Spec();
  s.normalizer = {{"type", "Sequence"}, {"normalizers", {{{"type", "NFC"}}, {{"type", "Strip"}}}}};
  expect_unsupported(s, "Strip");
  s = Spec();
  s.pre_tokenizer = {{"type", "Metaspace"}};
  expect_unsupported(s, "Metaspace");
  s = Spec();
  s.decoder = {{"type", "WordPiece"}};
  expect_unsupported(s, "WordPiece");
  s = Spec();
  s.post_processor = {{"type", "Fancy"}};
  expect_unsupported(s, "Fancy");
  json j = make_json(Spec());
  j["model"]["type"] = "Unigram";
  try {
    Tokenizer::from_json(j, nullptr, "x");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("'Unigram'"), std::string::npos);
  }
}

TEST(Tokenizer, MalformedFilesAreClearErrors) {
  Spec s;
  json j = make_json(s);
  j["model"]["merges"] = {"a"};
  EXPECT_THROW(Tokenizer::from_json(j, nullptr, "x"), Error);
  j = make_json(s);
  j["model"]["merges"] = {"q zz"};
  try {
    Tokenizer::from_json(j, nullptr, "x");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  }
  try {
    Tokenizer::load("/nonexistent/dir");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
  const std::string dir = ::testing::TempDir() + "/tok_malformed";
  std::filesystem::create_directories(dir);
  { std::ofstream(dir + "/tokenizer.json") << "{\"model\": "; }
  try {
    Tokenizer::load(dir);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("tokenizer.json"), std::string::npos);
  }
}

TEST(Tokenizer, InvalidUtf8IsReplacedNeverACrash) {
  Spec s;
  s.merges = {{"a", "b"}};
  s.normalizer = nullptr;  // so decode(encode(x)) is exactly the repaired x
  auto t = make(s);
  EXPECT_EQ(t->encode("a\xFF"
                      "b"),
            t->encode("a\xEF\xBF\xBD"
                      "b"));
  EXPECT_EQ(t->decode(t->encode("x\xC3")), "x\xEF\xBF\xBD");
  // A lone lead byte decodes to U+FFFD, never to invalid UTF-8.
  EXPECT_EQ(t->decode(std::vector<int32_t>{0xE2, 'a'}),
            "\xEF\xBF\xBD"
            "a");
  EXPECT_THROW(t->decode(std::vector<int32_t>{5000}), Error);
  std::mt19937 rng(7);
  for (int k = 0; k < 300; ++k) {
    std::string junk(rng() % 40, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    const auto ids = t->encode(junk);
    EXPECT_TRUE(utf8::is_valid(t->decode(ids)));
    EXPECT_EQ(t->decode(ids), utf8::sanitize(junk));
  }
}

TEST(IncrementalDecoder, NeverSplitsACharacter) {
  Spec s;
  s.added = json::array({added("<e>", 400, true)});
  auto t = make(s);
  const std::string text = "a\xC3\xA9\xF0\x9F\x98\x80<e>\xE4\xBD\xA0";  // a é 😀 <e> 你
  const auto ids = t->encode(text);
  ASSERT_EQ(ids.size(), 11u);  // one id per byte, one for <e>
  for (bool skip : {true, false}) {
    IncrementalDecoder dec(*t, skip);
    std::string all;
    std::vector<std::string> chunks;
    for (int32_t id : ids) {
      chunks.push_back(dec.push(std::span<const int32_t>(&id, 1)));
      EXPECT_TRUE(utf8::is_valid(chunks.back()));
      EXPECT_EQ(chunks.back().find("\xEF\xBF\xBD"), std::string::npos);
      all += chunks.back();
    }
    all += dec.flush();
    EXPECT_EQ(all, t->decode(ids, skip));
    EXPECT_EQ(chunks[2], "\xC3\xA9");          // é appears whole with its second byte
    EXPECT_EQ(chunks[6], "\xF0\x9F\x98\x80");  // 😀 with its fourth
    EXPECT_EQ(chunks[7], skip ? "" : "<e>");
  }
  IncrementalDecoder dec(*t);
  EXPECT_EQ(dec.push(std::vector<int32_t>{0xF0, 0x9F}), "");
  EXPECT_EQ(dec.flush(), "\xEF\xBF\xBD");  // an unfinished character at the end
}

// BPE over raw bytes (used when the pre-tokenizer ends in a plain ByteLevel step) must give the
// ids of BPE over the mapped characters: a no-op Split after ByteLevel forces the mapped path.
TEST(Tokenizer, RawBytePathMatchesMappedCharacterPath) {
  std::ifstream in(test::model_dir("dream") + "/tokenizer.json");
  const json j = json::parse(in);
  json mapped = j;
  mapped["pre_tokenizer"]["pretokenizers"].push_back({{"type", "Split"},
                                                      {"pattern", {{"String", "\x01never\x02"}}},
                                                      {"behavior", "Isolated"},
                                                      {"invert", false}});
  auto fast = Tokenizer::from_json(j, nullptr, "fast");
  auto slow = Tokenizer::from_json(mapped, nullptr, "slow");
  std::mt19937 rng(11);
  const std::vector<std::string> alphabet = {"a",
                                             "e",
                                             "t",
                                             "h",
                                             " ",
                                             "  ",
                                             "\n",
                                             "the",
                                             "ing",
                                             "\xC3\xA9",
                                             "\xE4\xBD\xA0",
                                             "\xF0\x9F\x98\x80",
                                             "'s",
                                             "1",
                                             ".",
                                             "<|im_end|>"};
  for (int k = 0; k < 200; ++k) {
    std::string text;
    for (int n = static_cast<int>(rng() % 30); n > 0; --n)
      text += alphabet[rng() % alphabet.size()];
    EXPECT_EQ(fast->encode(text), slow->encode(text)) << text;
  }
}

class FixtureTokenizer : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureTokenizer, LoadsAndRoundTrips) {
  auto t = Tokenizer::load(test::model_dir(GetParam()));
  const TokenizerConfig& c = t->config();
  EXPECT_FALSE(c.chat_template.empty());
  EXPECT_GE(c.eos_token_id, 0);
  EXPECT_EQ(t->id_to_token(c.eos_token_id), c.eos_token);
  EXPECT_GE(c.mask_token_id, 0);
  EXPECT_TRUE(t->is_special(c.mask_token_id));
  EXPECT_EQ(t->vocab_size(), 512u);
  for (const std::string text :
       {"The quick brown fox jumps over the lazy dog.", "  two  spaces\n\nand\ttabs\r\n",
        "caf\xC3\xA9 \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80", "don't 12345 x**2", ""}) {
    const auto ids = t->encode(text);
    for (int32_t id : ids) EXPECT_LT(static_cast<size_t>(id), t->vocab_size());
    EXPECT_EQ(t->decode(ids), text);
  }
  const auto ids = t->encode(c.eos_token + "hi" + c.mask_token);
  EXPECT_EQ(ids.front(), c.eos_token_id);
  EXPECT_EQ(ids.back(), c.mask_token_id);
  EXPECT_EQ(t->decode(ids, true), "hi");
}

INSTANTIATE_TEST_SUITE_P(Models, FixtureTokenizer,
                         ::testing::Values("llada", "dream", "sdar", "fast_dllm_v2"));

TEST(FixtureTokenizer, SpecialTokenIdsMatchTheConfig) {
  auto llada = Tokenizer::load(test::model_dir("llada"));
  EXPECT_EQ(llada->config().bos_token, "<|startoftext|>");
  EXPECT_EQ(llada->config().bos_token_id, 502);
  EXPECT_EQ(llada->config().eos_token_id, 503);
  EXPECT_EQ(llada->config().mask_token_id, 500);
  auto dream = Tokenizer::load(test::model_dir("dream") + "/tokenizer.json");
  EXPECT_EQ(dream->config().mask_token_id, 505);
  EXPECT_EQ(dream->config().bos_token_id, -1);
  EXPECT_EQ(Tokenizer::load(test::model_dir("fast_dllm_v2"))->config().mask_token_id, 511);
}

}  // namespace
}  // namespace dlx
