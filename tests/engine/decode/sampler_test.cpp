// Sampler: confidences, filters, the mask exclusion, and seeded sampling statistics.
#include "engine/decode/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace dlx {
namespace {

std::vector<double> softmax(const std::vector<float>& l, double t = 1.0) {
  double mx = -1e300, s = 0;
  for (float x : l) mx = std::max(mx, x / t);
  std::vector<double> p(l.size());
  for (size_t i = 0; i < l.size(); ++i) s += p[i] = std::exp(l[i] / t - mx);
  for (auto& x : p) x /= s;
  return p;
}

TEST(Sampler, GreedyProbMarginEntropy) {
  std::vector<float> logits = {1.0f, 3.0f, 2.0f, 0.5f};
  auto probs = softmax(logits);
  DecodeParams p;
  Rng rng(1);
  {
    Sampler s(p, 4, -1);
    Candidate c = s.pick(logits.data(), rng);
    EXPECT_EQ(c.token, 1);
    EXPECT_NEAR(c.confidence, probs[1], 1e-12);
  }
  p.confidence = ConfidenceKind::kMargin;
  {
    Sampler s(p, 4, -1);
    EXPECT_NEAR(s.pick(logits.data(), rng).confidence, probs[1] - probs[2], 1e-12);
  }
  p.confidence = ConfidenceKind::kNegEntropy;
  {
    Sampler s(p, 4, -1);
    double h = 0;
    for (double q : probs) h += q * std::log(q + 1e-10);
    EXPECT_NEAR(s.pick(logits.data(), rng).confidence, h, 1e-12);
  }
}

TEST(Sampler, MaskTokenIsNeverACandidateButCountsInConfidence) {
  std::vector<float> logits = {0.0f, 5.0f, 1.0f};
  auto probs = softmax(logits);
  DecodeParams p;
  Rng rng(3);
  Sampler s(p, 3, /*mask_id=*/1);
  Candidate c = s.pick(logits.data(), rng);
  EXPECT_EQ(c.token, 2);
  EXPECT_NEAR(c.confidence, probs[2], 1e-12);  // softmax over the full vocabulary
  p.temperature = 1.0;
  Sampler hot(p, 3, 1);
  for (int i = 0; i < 2000; ++i) EXPECT_NE(hot.pick(logits.data(), rng).token, 1);
}

TEST(Sampler, TopKAndTopPReshapeConfidenceAtTemperatureZero) {
  std::vector<float> logits = {2.0f, 1.0f, 0.5f, 0.0f};
  DecodeParams p;
  p.top_k = 2;
  Rng rng(0);
  Sampler k2(p, 4, -1);
  auto kept = softmax({2.0f, 1.0f});
  EXPECT_NEAR(k2.pick(logits.data(), rng).confidence, kept[0], 1e-12);
  p.top_k = 0;
  p.top_p = 0.5;  // the top token alone holds more than half the mass
  Sampler p05(p, 4, -1);
  EXPECT_NEAR(p05.pick(logits.data(), rng).confidence, 1.0, 1e-12);
}

// min_p keeps tokens at least min_p times as likely as the top one (after the temperature),
// and never samples the others.
TEST(Sampler, MinPDropsTokensBelowItsShareOfTheTop) {
  std::vector<float> logits = {2.0f, 1.5f, 0.0f, -1.0f};  // p ~ .53 .32 .07 .03
  const auto probs = softmax(logits);
  DecodeParams p;
  p.min_p = 0.5;  // keeps tokens with p >= .26: the first two
  Rng rng(5);
  Sampler greedy(p, 4, -1);
  const auto kept = softmax({2.0f, 1.5f});
  EXPECT_NEAR(greedy.pick(logits.data(), rng).confidence, kept[0], 1e-12);
  p.temperature = 1.0;
  Sampler hot(p, 4, -1);
  int first = 0;
  for (int i = 0; i < 4000; ++i) {
    const int t = hot.pick(logits.data(), rng).token;
    EXPECT_LT(t, 2);
    first += t == 0;
  }
  EXPECT_NEAR(first / 4000.0, kept[0], 0.03);
  p.min_p = 0;  // off: the confidence is the full softmax's again
  p.temperature = 0;
  Sampler off(p, 4, -1);
  EXPECT_NEAR(off.pick(logits.data(), rng).confidence, probs[0], 1e-12);
}

TEST(Sampler, SeededSamplingIsReproducibleAndSeedsDiffer) {
  std::vector<float> logits(64);
  for (int i = 0; i < 64; ++i) logits[i] = static_cast<float>(std::sin(i * 0.7));
  DecodeParams p;
  p.temperature = 1.0;
  auto draw = [&](uint64_t seed) {
    Rng rng(seed);
    Sampler s(p, 64, -1);
    std::vector<int32_t> out;
    for (int i = 0; i < 200; ++i) out.push_back(s.pick(logits.data(), rng).token);
    return out;
  };
  EXPECT_EQ(draw(7), draw(7));
  EXPECT_NE(draw(7), draw(8));
}

TEST(Sampler, FrequenciesFollowTheSoftmax) {
  std::vector<float> logits = {0.0f, 1.0f, 2.0f, -1.0f, 0.5f};
  for (double t : {1.0, 0.7}) {
    DecodeParams p;
    p.temperature = t;
    Rng rng(12345);
    Sampler s(p, 5, -1);
    const int n = 200000;
    std::vector<int> counts(5);
    for (int i = 0; i < n; ++i) ++counts[s.pick(logits.data(), rng).token];
    auto probs = softmax(logits, t);
    for (int v = 0; v < 5; ++v) {
      const double sd = std::sqrt(probs[v] * (1 - probs[v]) / n);
      EXPECT_NEAR(double(counts[v]) / n, probs[v], 5 * sd) << "t=" << t << " v=" << v;
    }
  }
}

TEST(Sampler, RandomConfidenceIsUniformAndSeeded) {
  std::vector<float> logits = {0.0f, 1.0f};
  DecodeParams p;
  p.confidence = ConfidenceKind::kRandom;
  Rng a(5), b(5);
  Sampler s(p, 2, -1);
  double sum = 0;
  for (int i = 0; i < 10000; ++i) {
    double x = s.pick(logits.data(), a).confidence;
    EXPECT_EQ(x, s.pick(logits.data(), b).confidence);
    EXPECT_GE(x, 0.0);
    EXPECT_LT(x, 1.0);
    sum += x;
  }
  EXPECT_NEAR(sum / 10000, 0.5, 0.02);
}

}  // namespace
}  // namespace dlx
