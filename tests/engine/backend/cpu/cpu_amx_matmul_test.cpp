// The AMX bf16 kernel (MatmulMode::kBF16Dot on CPUs with AMX) against a double reference of
// the bf16-rounded activations times the bf16 weights, and against the AVX512_BF16 kernel it
// replaces: every combination of whole and partial 16-row weight and token tiles, the N % 16
// tail rows, bias, a wider output row, and 1 or 2 threads. Skipped where AMX is not usable.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/backend/cpu/cpu_matmul.h"
#include "engine/formats/dtype.h"

namespace dlx::cpu::detail {
namespace {

#if defined(__x86_64__) && defined(__GNUC__)

constexpr double kU = 1.0 / (1 << 24);  // unit roundoff of f32

struct Case {
  int64_t T, K, N;
};

class AmxMatmul : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    if (!amx_bf16_usable()) GTEST_SKIP() << "no AMX-BF16 on this CPU (or DLX_CPU_AMX=0)";
  }
  ThreadPool pool_{GetParam()};
  std::mt19937 rng_{11};
};

TEST_P(AmxMatmul, EqualsBf16ProductsInEveryTileShape) {
  const Case cases[] = {{1, 32, 16},   {16, 64, 32}, {17, 96, 48},  {33, 896, 67}, {81, 896, 40},
                        {5, 4864, 19}, {40, 128, 7}, {64, 256, 96}, {3, 32, 1000}};
  std::uniform_real_distribution<float> d(-1, 1);
  for (const Case& cs : cases) {
    SCOPED_TRACE(testing::Message() << "T=" << cs.T << " K=" << cs.K << " N=" << cs.N);
    std::vector<float> x(cs.T * cs.K), bias(cs.N), wf(cs.N * cs.K);
    std::vector<uint16_t> w(cs.N * cs.K);
    for (float& v : x) v = d(rng_);
    for (float& v : bias) v = d(rng_);
    for (size_t i = 0; i < w.size(); ++i) {
      w[i] = f32_to_bf16(d(rng_));
      wf[i] = bf16_to_f32(w[i]);
    }
    const int64_t ldy = cs.N + 5;
    std::vector<float> y(cs.T * ldy, 777.0f), y_ref(cs.T * ldy, 777.0f);
    const MatmulCall c{x.data(), cs.T,        cs.K,     w.data(), DType::kBF16,
                       cs.N,     bias.data(), y.data(), ldy};
    matmul_amx_bf16(c, pool_);
    MatmulCall r = c;
    r.y = y_ref.data();
    matmul_avx512_bf16dot(r, pool_);
    int bad = 0;
    for (int64_t t = 0; t < cs.T && bad < 5; ++t) {
      for (int64_t n = 0; n < ldy && bad < 5; ++n) {
        const float got = y[t * ldy + n];
        if (n >= cs.N) {
          ASSERT_EQ(got, 777.0f) << "wrote past N at t=" << t << " n=" << n;
          continue;
        }
        double s = bias[n], mag = std::fabs(bias[n]);
        for (int64_t k = 0; k < cs.K; ++k) {
          const double p = double{bf16_to_f32(f32_to_bf16(x[t * cs.K + k]))} * wf[n * cs.K + k];
          s += p;
          mag += std::fabs(p);
        }
        const double bound = (cs.K + 4) * kU * mag + 1e-30;
        if (!(std::fabs(got - s) <= bound) || !(std::fabs(y_ref[t * ldy + n] - s) <= bound)) {
          ++bad;
          ADD_FAILURE() << "y[" << t << ", " << n << "]: amx " << got << ", avx512_bf16 "
                        << y_ref[t * ldy + n] << ", want " << s << " +- " << bound;
        }
      }
    }
    if (HasFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(Threads, AmxMatmul, ::testing::Values(1, 2));

#endif

}  // namespace
}  // namespace dlx::cpu::detail
