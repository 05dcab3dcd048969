// The quality metrics on hand-built logits with known values: KL(ref || model) of softmax rows
// (shift invariance, large logits without overflow, asymmetry), top-1 agreement with ties,
// generation agreement with different lengths, and the prompt file reader.
#include "engine/devtools/model_quality.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <vector>

#include "engine/engine.h"
#include "engine/util/error.h"

namespace dlx::quality {
namespace {

TEST(ModelQualityKl, IdenticalRowsHaveZeroDivergence) {
  const std::vector<float> row = {1.5f, -2.0f, 0.25f, 3.0f};
  EXPECT_EQ(kl_divergence(row, row), 0.0);
}

TEST(ModelQualityKl, KnownValueOfTwoTokenRows) {
  // p = (1/2, 1/2), q = (3/4, 1/4): KL = 1/2 ln(2/3) + 1/2 ln(2) = 1/2 ln(4/3).
  const std::vector<float> ref = {0.0f, 0.0f};
  const std::vector<float> model = {static_cast<float>(std::log(3.0)), 0.0f};
  EXPECT_NEAR(kl_divergence(ref, model), 0.5 * std::log(4.0 / 3.0), 1e-7);
  // KL is not symmetric: KL(q || p) = 3/4 ln(3/2) + 1/4 ln(1/2).
  EXPECT_NEAR(kl_divergence(model, ref), 0.75 * std::log(1.5) + 0.25 * std::log(0.5), 1e-7);
}

TEST(ModelQualityKl, InvariantToAConstantShiftOfARow) {
  // Dyadic values: the shifted rows hold exactly the same differences.
  const std::vector<float> ref = {0.125f, 0.75f, -0.25f};
  const std::vector<float> model = {0.25f, 0.5f, -0.125f};
  std::vector<float> shifted = model;
  for (float& x : shifted) x += 40.0f;
  EXPECT_NEAR(kl_divergence(ref, model), kl_divergence(ref, shifted), 1e-9);
  std::vector<float> same_shape = ref;
  for (float& x : same_shape) x -= 7.0f;
  EXPECT_NEAR(kl_divergence(ref, same_shape), 0.0, 1e-12);
}

TEST(ModelQualityKl, LargeLogitsDoNotOverflow) {
  // exp(1000) overflows a double; log-sum-exp shifts by the maximum. Same p, q as above.
  const std::vector<float> ref = {1000.0f, 1000.0f};
  const std::vector<float> model = {1000.0f + static_cast<float>(std::log(3.0)), 1000.0f};
  const double kl = kl_divergence(ref, model);
  EXPECT_TRUE(std::isfinite(kl));
  EXPECT_NEAR(kl, 0.5 * std::log(4.0 / 3.0), 1e-4);  // float32 spacing at 1000 is 6e-5
}

TEST(ModelQualityKl, RowsOfDifferentLengthAreABug) {
  const std::vector<float> a = {0.0f, 1.0f}, b = {0.0f, 1.0f, 2.0f};
  EXPECT_THROW(kl_divergence(a, b), Error);
}

TEST(ModelQualityTop1, ArgmaxTakesTheFirstOfTies) {
  EXPECT_EQ(argmax(std::vector<float>{0.0f, 3.0f, 3.0f, 1.0f}), 1);
  EXPECT_EQ(argmax(std::vector<float>{-5.0f}), 0);
}

TEST(ModelQualityLogits, MeanMaxAndTop1OverRows) {
  // Row 0: identical (KL 0, same top-1). Row 1: p = (1/2, 1/2) vs q = (3/4, 1/4): the ref's
  // top-1 is token 0 (first of the tie), the model's token 0 too. Row 2: top-1 flips.
  const float l3 = static_cast<float>(std::log(3.0));
  const std::vector<float> ref = {2.0f, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f};
  const std::vector<float> model = {2.0f, 0.0f, l3, 0.0f, 1.0f, 0.0f};
  const LogitsAgreement a = compare_logits(ref.data(), model.data(), 3, 2);
  const double kl1 = 0.5 * std::log(4.0 / 3.0);
  // Row 2: p = softmax(0, 1), q = softmax(1, 0) = p reversed.
  const double p0 = 1.0 / (1.0 + std::exp(1.0)), p1 = 1.0 - p0;
  const double kl2 = p0 * std::log(p0 / p1) + p1 * std::log(p1 / p0);
  EXPECT_EQ(a.rows, 3);
  EXPECT_NEAR(a.kl_mean(), (kl1 + kl2) / 3, 1e-7);
  EXPECT_NEAR(a.kl_max, kl2, 1e-7);
  EXPECT_EQ(a.top1_agree, 2);
  EXPECT_NEAR(a.top1_rate(), 2.0 / 3, 1e-12);

  LogitsAgreement total = compare_logits(ref.data(), ref.data(), 3, 2);
  total.merge(a);
  EXPECT_EQ(total.rows, 6);
  EXPECT_NEAR(total.kl_mean(), (kl1 + kl2) / 6, 1e-7);
  EXPECT_NEAR(total.kl_max, kl2, 1e-7);
  EXPECT_EQ(total.top1_agree, 5);
}

TEST(ModelQualityGeneration, CountsMatchingPositionsAndIdenticalOutputs) {
  const std::vector<int32_t> ref = {5, 6, 7, 8};
  const GenerationAgreement same = compare_generations(ref, ref);
  EXPECT_EQ(same.identical, 1);
  EXPECT_EQ(same.match_fraction(), 1.0);

  const GenerationAgreement one_off = compare_generations(ref, std::vector<int32_t>{5, 6, 9, 8});
  EXPECT_EQ(one_off.identical, 0);
  EXPECT_EQ(one_off.positions, 4);
  EXPECT_EQ(one_off.matching, 3);

  // A shorter output (stopped at its end token earlier): the missing positions are mismatches.
  GenerationAgreement total = compare_generations(ref, std::vector<int32_t>{5, 6});
  EXPECT_EQ(total.identical, 0);
  EXPECT_EQ(total.positions, 4);
  EXPECT_EQ(total.matching, 2);
  total.merge(same);
  total.merge(one_off);
  EXPECT_EQ(total.generations, 3);
  EXPECT_EQ(total.identical, 1);
  EXPECT_NEAR(total.identical_rate(), 1.0 / 3, 1e-12);
  EXPECT_NEAR(total.match_fraction(), 9.0 / 12, 1e-12);
}

// The library call the CLI and benches use, on the SDAR fixture (block-causal attention).
TEST(ModelQualityPrompt, ComparesEveryCanvasRowAndTheGenerations) {
  Engine engine(EngineOptions{"cpu", 1, {}});
  const std::string dir = std::string(DLX_FIXTURES) + "/models/sdar";
  const auto exact = engine.load(dir, {});
  ModelLoadOptions int8;
  int8.precision = Precision::kInt8;
  const auto quantized = engine.load(dir, int8);
  check_comparable(*quantized, *exact);

  DecodeParams p = default_decode_params(exact->model->config());
  p.gen_length = 8;
  p.block_length = 4;
  const std::vector<int32_t> prompt = encode_prompt(*exact->tokenizer, "12+35=", true);
  const PromptQuality self = compare_prompt(*exact->model, *exact->model, prompt, p, p);
  EXPECT_EQ(self.logits.rows, static_cast<int64_t>(prompt.size()) + 8);
  EXPECT_EQ(self.logits.kl_max, 0.0);
  EXPECT_EQ(self.logits.top1_agree, self.logits.rows);
  EXPECT_EQ(self.generation.identical, 1);
  EXPECT_EQ(self.ref_output, self.model_output);

  const PromptQuality q = compare_prompt(*quantized->model, *exact->model, prompt, p, p);
  EXPECT_EQ(q.logits.rows, self.logits.rows);
  EXPECT_GT(q.logits.kl_mean(), 0.0);
  EXPECT_EQ(q.ref_output, self.ref_output);  // the reference side is the same run
}

class PromptFile : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    path_ = ::testing::TempDir() + "/dlx_prompts_" + std::to_string(::getpid()) + ".txt";
    std::ofstream(path_) << text;
    return path_;
  }
  void TearDown() override { std::filesystem::remove(path_); }
  std::string path_;
};

TEST_F(PromptFile, ReadsPlainLinesAndJsonLines) {
  const auto prompts =
      read_prompts(write("first prompt\n\n{\"prompt\": \"12+35=\", \"answer\": \"47\"}\r\nlast"));
  EXPECT_EQ(prompts, (std::vector<std::string>{"first prompt", "12+35=", "last"}));
}

TEST_F(PromptFile, AJsonLineWithoutAPromptNamesTheLine) {
  const std::string path = write("ok\n{\"text\": \"no prompt key\"}\n");
  try {
    read_prompts(path);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find(path + ":2"), std::string::npos) << e.what();
  }
}

TEST_F(PromptFile, EmptyAndMissingFilesAreErrors) {
  EXPECT_THROW(read_prompts(write("\n  \n")), Error);
  EXPECT_THROW(read_prompts("/nonexistent/prompts.txt"), Error);
}

}  // namespace
}  // namespace dlx::quality
