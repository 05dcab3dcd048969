// Q4_K / Q6_K blocks (engine/formats/kquant.h) decode to the values they encode, and stay close
// to the data they were made from.
#include "engine/formats/kquant.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/support/kquant_encode.h"

namespace dlx::test {
namespace {

std::vector<float> random_values(int64_t n, uint32_t seed, float offset) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(offset, 0.05f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = dist(rng);
  x[7] = 0.4f;  // an outlier moves one group's scale
  return x;
}

TEST(KQuant, Q4KDecodesWhatWasEncoded) {
  for (float offset : {0.0f, 0.03f, -0.03f}) {
    const auto x = random_values(3 * 256, 1, offset);
    std::vector<float> want, got(x.size());
    const auto blocks = encode_q4_k(x.data(), 3 * 256, &want);
    ASSERT_EQ(blocks.size(), 3 * kQ4KBytes);
    dequantize_row_q4_k(blocks.data(), 3 * 256, got.data());
    EXPECT_EQ(got, want);
    for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(got[i], x[i], 0.04f) << i;
  }
}

TEST(KQuant, Q6KDecodesWhatWasEncoded) {
  for (float offset : {0.0f, 0.03f}) {
    const auto x = random_values(2 * 256, 2, offset);
    std::vector<float> want, got(x.size());
    const auto blocks = encode_q6_k(x.data(), 2 * 256, &want);
    ASSERT_EQ(blocks.size(), 2 * kQ6KBytes);
    dequantize_row_q6_k(blocks.data(), 2 * 256, got.data());
    EXPECT_EQ(got, want);
    for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(got[i], x[i], 0.01f) << i;
  }
}

}  // namespace
}  // namespace dlx::test
