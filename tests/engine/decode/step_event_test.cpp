// The one JSON form of a step event (generate --trace and the SSE `step` event).
#include "engine/decode/step_event.h"

#include <gtest/gtest.h>

#include "engine/tokenizer/tokenizer.h"
#include "tests/support/test_util.h"

namespace dlx::test {
namespace {

StepEvent sample_event() {
  StepEvent e;
  e.step = 3;
  e.block = 1;
  e.positions = {4, 6};
  e.tokens = {9707, 1879};  // "Hello", " world" in Qwen's vocabulary
  e.confidences = {0.5f, 0.25f};
  e.masks_remaining = 10;
  e.span_tokens = 32;
  e.forward_ms = 1.5;
  return e;
}

TEST(StepEventJson, HasExactlyTheDocumentedKeys) {
  const nlohmann::json j = to_json(sample_event());
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"block", "confidences", "end_from", "forward_ms",
                                            "masks_remaining", "positions", "span_tokens", "step",
                                            "tokens"}));
  EXPECT_EQ(j["step"], 3);
  EXPECT_EQ(j["positions"], nlohmann::json({4, 6}));
  EXPECT_EQ(j["tokens"], nlohmann::json({9707, 1879}));
  EXPECT_FLOAT_EQ(j["confidences"][1].get<float>(), 0.25f);
  EXPECT_EQ(j["span_tokens"], 32);
  EXPECT_EQ(j["end_from"], -1);
}

TEST(StepEventJson, AddsEachTokensTextGivenATokenizer) {
  auto tok = Tokenizer::load(fixtures() + "/tokenizers/qwen3");
  const nlohmann::json j = to_json(sample_event(), tok.get());
  EXPECT_EQ(j["pieces"], nlohmann::json({"Hello", " world"}));
}

}  // namespace
}  // namespace dlx::test
