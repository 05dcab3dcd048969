// Matmul with Q8_0 / Q4_0 weights at every instruction-set level this machine supports, against
// double-precision references: (1) the exact product of the dequantized weights and the
// int8-quantized activations (only f32 summation error is allowed), and (2) the product with the
// original f32 activations, within the worst-case bound of the activation rounding.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/backend/cpu/cpu_kernels.h"
#include "engine/backend/cpu/cpu_matmul.h"
#include "engine/formats/quant.h"
#include "engine/util/error.h"

namespace dlx::cpu {
namespace {

constexpr double kU = 1.0 / (1 << 24);  // unit roundoff of f32

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa i :
       {Isa::kGeneric, Isa::kAvx2, Isa::kAvx512, Isa::kNeon, Isa::kNeonDot, Isa::kNeonI8mm}) {
    if (isa_supported(i)) out.push_back(i);
  }
  return out;
}

class QuantMatmul : public ::testing::TestWithParam<int> {
 protected:
  ThreadPool pool_{GetParam()};
  std::mt19937 rng_{11};
  std::vector<float> random(size_t n, float scale) {
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (float& x : v) x = d(rng_);
    return v;
  }
};

constexpr double kActStep = 0.563;  // most an activation moves, in units of its block's scale

TEST_P(QuantMatmul, MatchesDequantizedReferenceAtEveryIsa) {
  for (DType wt : {DType::kQ8_0, DType::kQ4_0}) {
    for (int64_t K : {32, 96, 896}) {
      for (int64_t T : {1, 3, 4, 9, 14}) {
        for (int64_t N : {1, 5, 19, 50}) {
          const std::vector<float> wf = random(N * K, 0.05f);
          std::vector<float> x = random(T * K, 1.0f);
          if (T > 2) {  // an all-zero block and an outlier exercise the scale edge cases
            for (int k = 0; k < 32; ++k) x[K + k] = 0.0f;
            x[2 * K + 5] = 40.0f;
          }
          const std::vector<float> bias = random(N, 0.5f);
          const size_t rb = dtype_row_bytes(wt, K);
          std::vector<uint8_t> w(N * rb);
          std::vector<float> wdq(N * K);
          for (int64_t n = 0; n < N; ++n) {
            quantize_row(wt, wf.data() + n * K, K, w.data() + n * rb);
            dequantize_row(wt, w.data() + n * rb, K, wdq.data() + n * K);
          }
          // The activations as the kernel quantizes them.
          std::vector<double> xdq(T * K);
          std::vector<double> xerr(T * K / 32);  // max rounding error per activation block
          for (int64_t t = 0; t < T; ++t) {
            std::vector<int8_t> q(K);
            std::vector<float> d(K / 32);
            std::vector<int32_t> s(K / 32);
            quantize_row_q8(x.data() + t * K, K, q.data(), d.data(), s.data());
            // q = round(x * 127 / amax) and d = amax / 127 kept at f16 precision (as ggml):
            // |q d - x| <= d/2 + 127 d 2^-11 < 0.563 d.
            for (int64_t k = 0; k < K; ++k) {
              xdq[t * K + k] = static_cast<double>(d[k / 32]) * q[k];
              EXPECT_LE(std::fabs(xdq[t * K + k] - x[t * K + k]), kActStep * d[k / 32] + 1e-30);
            }
            for (int64_t b = 0; b < K / 32; ++b) {
              int32_t sum = 0;
              for (int j = 0; j < 32; ++j) sum += q[32 * b + j];
              EXPECT_EQ(sum, s[b]);
              xerr[t * K / 32 + b] = kActStep * d[b];
            }
          }
          const int64_t ldy = N + 3;
          for (Isa isa : supported_isas()) {
            std::vector<float> y(T * ldy, -7.0f);
            matmul(x.data(), T, K, w.data(), wt, N, bias.data(), y.data(), ldy, MatmulMode::kInt8,
                   pool_, isa);
            // kF32: the dequantized weights times the f32 activations, to f32 rounding.
            std::vector<float> ye(T * ldy, -7.0f);
            matmul(x.data(), T, K, w.data(), wt, N, bias.data(), ye.data(), ldy, MatmulMode::kF32,
                   pool_, isa);
            int bad = 0;
            for (int64_t t = 0; t < T && bad < 5; ++t) {
              for (int64_t n = 0; n < N && bad < 5; ++n) {
                double exact = bias[n], mag = std::fabs(bias[n]), f32 = bias[n], act = 0;
                for (int64_t k = 0; k < K; ++k) {
                  exact += wdq[n * K + k] * xdq[t * K + k];
                  mag += std::fabs(wdq[n * K + k] * xdq[t * K + k]);
                  f32 += wdq[n * K + k] * static_cast<double>(x[t * K + k]);
                  act += std::fabs(wdq[n * K + k]) * xerr[t * K / 32 + k / 32];
                }
                // (1) integer block dots are exact; K/32 scaled block terms summed in f32.
                const double tight = (K / 32 + 8) * 2 * kU * mag + 1e-30;
                const double got = y[t * ldy + n];
                double fmag = std::fabs(bias[n]);
                for (int64_t k = 0; k < K; ++k) fmag += std::fabs(wdq[n * K + k] * x[t * K + k]);
                EXPECT_NEAR(ye[t * ldy + n], f32, (K + 4) * kU * fmag + 1e-30)
                    << dtype_name(wt) << " exact " << isa_name(isa) << " K=" << K;
                if (!(std::fabs(got - exact) <= tight) || !(std::fabs(got - f32) <= act + tight)) {
                  ++bad;
                  ADD_FAILURE() << dtype_name(wt) << " " << isa_name(isa) << " K=" << K
                                << " T=" << T << " N=" << N << " y[" << t << "," << n
                                << "] = " << got << ", want " << exact << " +- " << tight
                                << " (f32 activations: " << f32 << " +- " << act + tight << ")";
                }
              }
              EXPECT_EQ(y[t * ldy + N], -7.0f);  // nothing written past N
            }
          }
        }
      }
    }
  }
}

TEST_P(QuantMatmul, RowsThatAreNotWholeBlocksAreAnError) {
  std::vector<float> x(40), y(1);
  std::vector<uint8_t> w(64);
  for (MatmulMode mode : {MatmulMode::kF32, MatmulMode::kInt8}) {
    EXPECT_THROW(
        matmul(x.data(), 1, 40, w.data(), DType::kQ8_0, 1, nullptr, y.data(), 1, mode, pool_),
        Error);
  }
}

// Precision kInt8 on f32 weights: the backend quantizes them to Q8_0 at upload (and keeps only
// that), so the product equals the one with the same weights quantized by quantize_row.
TEST_P(QuantMatmul, Int8PrecisionQuantizesPlainWeightsAtUpload) {
  const int64_t T = 5, K = 64, N = 7;
  const std::vector<float> wf = random(N * K, 0.05f), x = random(T * K, 1.0f);
  auto be = make_cpu_backend(GetParam());
  HostTensor h;
  h.name = "w";
  h.dtype = DType::kF32;
  h.shape = {N, K};
  h.data = reinterpret_cast<const uint8_t*>(wf.data());
  h.nbytes = wf.size() * 4;
  const Tensor w = be->upload_weight(h, N, K, Precision::kInt8);
  EXPECT_EQ(w.dtype, DType::kQ8_0);
  Tensor xt = be->upload_f32(x.data(), T, K), yt = be->alloc(T, N);
  be->matmul(xt, w, nullptr, yt);
  std::vector<float> got(T * N), want(T * N);
  be->read(yt, got.data());
  std::vector<uint8_t> q(N * dtype_row_bytes(DType::kQ8_0, K));
  for (int64_t n = 0; n < N; ++n)
    quantize_row(DType::kQ8_0, wf.data() + n * K, K,
                 q.data() + n * dtype_row_bytes(DType::kQ8_0, K));
  matmul(x.data(), T, K, q.data(), DType::kQ8_0, N, nullptr, want.data(), N, MatmulMode::kInt8,
         pool_);
  for (int64_t i = 0; i < T * N; ++i) EXPECT_NEAR(got[i], want[i], 1e-5f) << i;
}

INSTANTIATE_TEST_SUITE_P(Threads, QuantMatmul, ::testing::Values(1, 2));

#if defined(__x86_64__) && defined(__GNUC__)
// The AVX-512 kernel quantizes activations with its own loop: it must give exactly the bytes,
// scales and sums of quantize_row_q8 (which matches ggml, see gguf_interop_test).
TEST(QuantizeRowQ8, Avx512IsBitForBitThePortableOne) {
  if (!cpu_features().avx512_vnni) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  const int64_t K = 32 * 64;
  std::mt19937 rng(5);
  std::vector<float> x(K);
  for (int64_t b = 0; b < K / 32; ++b) {
    // Blocks at scales from 1e-30 to 1e30, an all-zero block, and ties: amax 127 makes
    // x * 127 / amax = x, so x = k + 0.5 must round to even both ways.
    std::normal_distribution<float> d(0.0f, std::pow(10.0f, static_cast<float>(b % 61 - 30)));
    for (int j = 0; j < 32; ++j) x[32 * b + j] = d(rng);
    if (b == 7) std::fill(x.begin() + 32 * b, x.begin() + 32 * b + 32, 0.0f);
    if (b == 8) {
      for (int j = 0; j < 32; ++j) x[32 * b + j] = static_cast<float>(j % 2 ? j : -j) + 0.5f;
      x[32 * b + 31] = 127.0f;
    }
  }
  std::vector<int8_t> q1(K), q2(K);
  std::vector<float> d1(K / 32), d2(K / 32);
  std::vector<int32_t> s1(K / 32), s2(K / 32);
  quantize_row_q8(x.data(), K, q1.data(), d1.data(), s1.data());
  detail::quantize_row_q8_avx512(x.data(), K, q2.data(), d2.data(), s2.data());
  EXPECT_EQ(q1, q2);
  EXPECT_EQ(s1, s2);
  for (int64_t b = 0; b < K / 32; ++b) EXPECT_EQ(d1[b], d2[b]) << b;
}
#endif

}  // namespace
}  // namespace dlx::cpu
