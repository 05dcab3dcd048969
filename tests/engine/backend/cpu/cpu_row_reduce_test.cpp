// The sampler's row reductions (cpu::row_max / row_find / row_sum_exp) at every instruction
// set this CPU has against plain C++ with std::exp: the same maximum (NaNs ignored), the same
// sum to double rounding (a double exp within 2 ulp, summed in another order), NaN propagated,
// every length from 0 to past a vector tail and the Qwen vocabulary.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "engine/backend/cpu/cpu_kernels.h"

namespace dlx::cpu {
namespace {

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa i : {Isa::kGeneric, Isa::kAvx2, Isa::kAvx512}) {
    if (isa_supported(i)) out.push_back(i);
  }
  return out;
}

TEST(RowReduce, MaxAndSumOfExpAtEveryIsaAndLength) {
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.0f, 8.0f);
  std::vector<int64_t> lengths = {151936, 1000, 257};
  for (int64_t n = 0; n <= 40; ++n) lengths.push_back(n);
  for (Isa isa : supported_isas()) {
    for (int64_t n : lengths) {
      SCOPED_TRACE(testing::Message() << isa_name(isa) << " n=" << n);
      std::vector<float> x(n);
      for (float& v : x) v = d(rng);
      if (n > 5) x[n / 2] = -std::numeric_limits<float>::infinity();
      if (n > 9) x[n / 3] = -2000.0f;  // e^(x - max) underflows to 0
      float mx = -std::numeric_limits<float>::infinity();
      for (float v : x) mx = std::max(mx, v);
      ASSERT_EQ(row_max(x.data(), n, isa), mx);
      double ref = 0;
      for (float v : x) ref += std::exp(static_cast<double>(v) - mx);
      const double got = row_sum_exp(x.data(), n, mx, isa);
      if (n == 0) {
        EXPECT_EQ(got, 0.0);
      } else {
        // Two double sums of n positive terms in different orders: each within n u of the
        // exact sum, plus the exps' 2 ulp.
        EXPECT_NEAR(got, ref, (2.0 * n + 4) * 0x1p-53 * ref);
      }
      if (n > 0) {
        EXPECT_EQ(row_find(x.data(), n, mx), std::max_element(x.begin(), x.end()) - x.begin());
      }
    }
  }
}

TEST(RowReduce, NanIsIgnoredByMaxAndPropagatedBySum) {
  for (Isa isa : supported_isas()) {
    SCOPED_TRACE(isa_name(isa));
    std::vector<float> x(100, 1.0f);
    x[37] = 3.0f;
    x[50] = std::numeric_limits<float>::quiet_NaN();
    EXPECT_EQ(row_max(x.data(), 100, isa), 3.0f);
    EXPECT_TRUE(std::isnan(row_sum_exp(x.data(), 100, 3.0, isa)));
    EXPECT_EQ(row_find(x.data(), 100, 3.0f), 37);
    EXPECT_EQ(row_find(x.data(), 100, 7.0f), -1);
  }
}

}  // namespace
}  // namespace dlx::cpu
