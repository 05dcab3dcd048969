// The decoding-key table: every key parses, prints and checks through the table, and the
// README's decoding table is the table's own text.
#include "engine/decode/decode_keys.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "engine/util/error.h"

namespace dlx {
namespace {

std::string read_readme() {
  std::ifstream f(std::string(DLX_SOURCE_DIR) + "/README.md");
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string error_param(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    return e.param();
  }
  return "<no error>";
}

TEST(DecodeKeys, ReadmeTableIsTheTable) {
  // The container image's build context leaves documentation out (.dockerignore: *.md).
  if (!std::filesystem::exists(std::string(DLX_SOURCE_DIR) + "/README.md")) {
    GTEST_SKIP() << "no README.md in this source tree (the container build context)";
  }
  EXPECT_NE(read_readme().find(decode_keys_markdown()), std::string::npos)
      << "README.md's decoding table differs from engine/decode/decode_keys.cpp; paste:\n"
      << decode_keys_markdown();
}

TEST(DecodeKeys, KeyListJsonAndSchemaFollowTheTable) {
  const DecodeParams p;
  const nlohmann::json j = to_json(p);
  const nlohmann::json schema = decode_key_schema();
  ASSERT_EQ(decode_param_keys().size(), decode_keys().size());
  ASSERT_EQ(schema.size(), decode_keys().size());
  ASSERT_EQ(j.size(), decode_keys().size());
  for (size_t i = 0; i < decode_keys().size(); ++i) {
    const DecodeKey& k = decode_keys()[i];
    EXPECT_EQ(decode_param_keys()[i], k.name);
    EXPECT_EQ(schema[i]["name"], k.name);
    EXPECT_TRUE(j.contains(k.name)) << k.name;
    EXPECT_FALSE(std::string(k.doc).empty()) << k.name;
    if (k.type == KeyType::kEnum) {
      EXPECT_EQ(schema[i]["options"].get<std::vector<std::string>>(), k.options) << k.name;
    }
  }
  EXPECT_EQ(schema[0]["minimum"], 1);             // gen_length
  EXPECT_EQ(schema[8]["exclusive_minimum"], 0);   // threshold
  EXPECT_EQ(schema[8]["maximum"], 1);
}

// Every key survives to_json -> apply_json with a non-default value.
TEST(DecodeKeys, JsonRoundTripsEveryKey) {
  DecodeParams p;
  for (const auto& [k, v] : TextOverrides{{"gen_length", "64"},     {"block_length", "16"},
                                          {"steps", "32"},          {"schedule", "timestep"},
                                          {"eps", "0.01"},          {"confidence", "margin"},
                                          {"commit", "threshold"},  {"threshold", "0.7"},
                                          {"sub_block_length", "8"}, {"cache", "dual"},
                                          {"temperature", "0.5"},   {"top_k", "20"},
                                          {"top_p", "0.9"},         {"cfg_scale", "1.5"},
                                          {"seed", "42"},           {"stop_at_eos", "false"}}) {
    set_param(p, k, v);
  }
  DecodeParams q;
  apply_json(q, to_json(p));
  EXPECT_EQ(to_json(q), to_json(p));
  set_param(q, "block_steps", "4");
  EXPECT_EQ(to_json(q)["block_steps"], 4);
}

TEST(DecodeKeys, JsonTypesComeFromTheTable) {
  DecodeParams p;
  EXPECT_EQ(error_param([&] { apply_json(p, {{"stop_at_eos", 1}}); }), "stop_at_eos");
  EXPECT_EQ(error_param([&] { apply_json(p, {{"threshold", "0.5"}}); }), "threshold");
  EXPECT_EQ(error_param([&] { apply_json(p, {{"gen_length", nullptr}}); }), "gen_length");
  EXPECT_EQ(error_param([&] { apply_json(p, {{"top_k", true}}); }), "top_k");
  EXPECT_EQ(error_param([&] { apply_json(p, {{"bogus", 1}}); }), "bogus");
  apply_json(p, {{"steps", nullptr}, {"gen_length", 32.0}});
  EXPECT_FALSE(p.steps.has_value());
  EXPECT_EQ(p.gen_length, 32);
}

TEST(DecodeKeys, BoundsAreCheckedFromTheTable) {
  auto bad = [](const std::string& key, const std::string& value) {
    DecodeParams p;
    set_param(p, key, value);
    return error_param([&] { check_key_bounds(p); });
  };
  EXPECT_EQ(bad("gen_length", "0"), "gen_length");
  EXPECT_EQ(bad("threshold", "0"), "threshold");
  EXPECT_EQ(bad("threshold", "1.01"), "threshold");
  EXPECT_EQ(bad("top_p", "0"), "top_p");
  EXPECT_EQ(bad("eps", "1"), "eps");
  EXPECT_EQ(bad("temperature", "-0.1"), "temperature");
  EXPECT_EQ(bad("steps", "2000000"), "steps");
  EXPECT_EQ(bad("top_k", "-1"), "top_k");
  DecodeParams ok;
  set_param(ok, "threshold", "1");
  EXPECT_NO_THROW(check_key_bounds(ok));
  try {
    DecodeParams p;
    set_param(p, "top_p", "2");
    check_key_bounds(p);
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "top_p: must be in (0, 1]");
  }
}

}  // namespace
}  // namespace dlx
