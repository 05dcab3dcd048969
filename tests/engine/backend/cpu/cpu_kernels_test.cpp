// CPU kernels at every instruction-set level this machine supports (generic, AVX2, AVX-512; on
// AArch64 neon, neon_dot, neon_i8mm), called directly, against double-precision references:
// matmul with K blocks, tails and edge tiles for f32 / bf16 / f16 weights, the opt-in bf16-dot
// mode, attention with large heads and long key ranges, SwiGLU, the vectorized exp, and the
// level detection.
#include "engine/backend/cpu/cpu_kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/backend/cpu/cpu_vecmath.h"

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

std::vector<float> random(size_t n, std::mt19937& rng, float lo = -1, float hi = 1) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// Weights of `dtype` (bytes) and their exact values as f32.
struct Weights {
  std::vector<uint8_t> bytes;
  std::vector<float> exact;
};

Weights make_weights(const std::vector<float>& v, DType dt) {
  Weights w;
  w.bytes.resize(v.size() * dtype_size(dt));
  w.exact.resize(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (dt == DType::kF32) {
      std::memcpy(w.bytes.data() + 4 * i, &v[i], 4);
      w.exact[i] = v[i];
    } else {
      const uint16_t h = dt == DType::kBF16 ? f32_to_bf16(v[i]) : f32_to_f16(v[i]);
      std::memcpy(w.bytes.data() + 2 * i, &h, 2);
      w.exact[i] = dt == DType::kBF16 ? bf16_to_f32(h) : f16_to_f32(h);
    }
  }
  return w;
}

// Checks y [T, ldy] against x w^T + bias in double. The bound is the worst case of any f32
// summation order, (K + 4) u sum|x w|, plus `rel_x` sum|x w| for activations rounded first.
void check_matmul(const std::vector<float>& y, int64_t ldy, const std::vector<float>& x,
                  const std::vector<float>& w, const std::vector<float>* bias, int64_t T, int64_t K,
                  int64_t N, double rel_x) {
  int bad = 0;
  for (int64_t t = 0; t < T && bad < 5; ++t) {
    for (int64_t n = 0; n < N && bad < 5; ++n) {
      double s = bias ? (*bias)[n] : 0.0, mag = bias ? std::fabs((*bias)[n]) : 0.0;
      for (int64_t k = 0; k < K; ++k) {
        const double p = static_cast<double>(x[t * K + k]) * w[n * K + k];
        s += p;
        mag += std::fabs(p);
      }
      const double bound = ((K + 4) * kU + rel_x) * mag + 1e-30;
      const double got = y[t * ldy + n];
      if (!(std::fabs(got - s) <= bound)) {
        ++bad;
        ADD_FAILURE() << "y[" << t << ", " << n << "] = " << got << ", want " << s << " +- "
                      << bound;
      }
    }
  }
}

class Kernels : public ::testing::TestWithParam<int> {
 protected:
  ThreadPool pool_{GetParam()};
  std::mt19937 rng_{7};
};

TEST_P(Kernels, MatmulEveryIsaDtypeAndBlocking) {
  // K: tails of 16 / 32 lanes, and sizes over one K block (1024 f32 / 2048 bf16 values) so
  // later blocks accumulate into y. N: partial 4-row weight tiles. T: partial row tiles and
  // more rows than one cache chunk.
  struct Shape {
    int64_t T, K, N;
  };
  const Shape shapes[] = {{7, 1100, 13}, {33, 2100, 9}, {5, 4864, 6}, {150, 896, 10},
                          {1, 33, 5},    {600, 40, 7},  {9, 2049, 4}};
  for (Isa isa : supported_isas()) {
    for (DType dt : {DType::kF32, DType::kBF16, DType::kF16}) {
      for (const Shape& s : shapes) {
        SCOPED_TRACE(testing::Message() << isa_name(isa) << " " << dtype_name(dt) << " T=" << s.T
                                        << " K=" << s.K << " N=" << s.N);
        const std::vector<float> x = random(s.T * s.K, rng_), bias = random(s.N, rng_);
        const Weights w = make_weights(random(s.N * s.K, rng_), dt);
        const int64_t ldy = s.N + 3;  // outputs land in a wider row: ldy is honoured
        std::vector<float> y(s.T * ldy, 12345.0f);
        matmul(x.data(), s.T, s.K, w.bytes.data(), dt, s.N, bias.data(), y.data(), ldy,
               MatmulMode::kF32, pool_, isa);
        check_matmul(y, ldy, x, w.exact, &bias, s.T, s.K, s.N, 0.0);
        for (int64_t t = 0; t < s.T; ++t) {
          for (int64_t n = s.N; n < ldy; ++n) ASSERT_EQ(y[t * ldy + n], 12345.0f) << "wrote past N";
        }
        if (HasFailure()) return;
      }
    }
  }
}

TEST_P(Kernels, MatmulBf16DotModeRoundsOnlyTheActivations) {
  // Modes are per call: kBF16Dot applies to bf16 weights on AVX512_BF16 CPUs and must equal
  // the exact product of bf16-rounded activations and the weights (up to f32 summation); on
  // other CPUs or weight types it is the f32 path.
  for (int64_t K : {64, 100, 2100}) {
    const int64_t T = 11, N = 9;
    SCOPED_TRACE(K);
    const std::vector<float> x = random(T * K, rng_);
    const Weights w = make_weights(random(N * K, rng_), DType::kBF16);
    std::vector<float> y(T * N);
    matmul(x.data(), T, K, w.bytes.data(), DType::kBF16, N, nullptr, y.data(), N,
           MatmulMode::kBF16Dot, pool_);
    const bool dot = cpu_features().avx512_bf16 && best_isa() == Isa::kAvx512;
    std::vector<float> xr = x;
    if (dot) {
      for (float& v : xr) v = bf16_to_f32(f32_to_bf16(v));
    }
    check_matmul(y, N, xr, w.exact, nullptr, T, K, N, 0.0);
  }
}

// Attention reference in double: softmax over the visible keys of each query.
std::vector<double> attention_ref(const std::vector<float>& q, const std::vector<float>& k,
                                  const std::vector<float>& v, int64_t Tq,
                                  const AttentionParams& p) {
  const int64_t qc = int64_t{p.heads} * p.head_dim, kc = int64_t{p.kv_heads} * p.head_dim;
  std::vector<double> out(Tq * qc);
  for (int64_t t = 0; t < Tq; ++t) {
    const int64_t qpos = p.q_pos0 + t;
    const int64_t vis =
        p.block_size > 0 ? std::min(p.n_keys, (qpos / p.block_size + 1) * p.block_size) : p.n_keys;
    for (int h = 0; h < p.heads; ++h) {
      const int g = h / (p.heads / p.kv_heads);
      std::vector<double> s(vis);
      double mx = -1e300, sum = 0;
      for (int64_t j = 0; j < vis; ++j) {
        double d = 0;
        for (int i = 0; i < p.head_dim; ++i) {
          d += double{q[t * qc + h * p.head_dim + i]} * k[j * kc + g * p.head_dim + i];
        }
        s[j] = d * p.scale;
        mx = std::max(mx, s[j]);
      }
      for (double& e : s) sum += (e = std::exp(e - mx));
      for (int i = 0; i < p.head_dim; ++i) {
        double o = 0;
        for (int64_t j = 0; j < vis; ++j) o += s[j] / sum * v[j * kc + g * p.head_dim + i];
        out[t * qc + h * p.head_dim + i] = o;
      }
    }
  }
  return out;
}

TEST_P(Kernels, AttentionEveryIsaWithRealHeadSizes) {
  struct Case {
    int64_t Tq, key_rows;
    int heads, kv_heads, hd;
    int64_t q_pos0, n_keys;
    int block;
  };
  const Case cases[] = {
      {81, 81, 14, 2, 64, 0, 81, 0},    // Qwen2.5-0.5B heads, an odd canvas
      {40, 40, 16, 8, 128, 0, 40, 4},   // Qwen3 heads (two 4-vector passes), SDAR blocks
      {33, 100, 4, 2, 64, 60, 93, 32},  // a span late in a long cache, block-causal
      {3, 3, 2, 1, 72, 0, 3, 0},        // head dims past whole vectors
      {17, 70, 6, 3, 8, 50, 67, 0},     // head_dim below one vector
  };
  for (Isa isa : supported_isas()) {
    for (const Case& c : cases) {
      SCOPED_TRACE(testing::Message() << isa_name(isa) << " Tq " << c.Tq << " H " << c.heads
                                      << " hd " << c.hd << " block " << c.block);
      AttentionParams p;
      p.heads = c.heads;
      p.kv_heads = c.kv_heads;
      p.head_dim = c.hd;
      p.q_pos0 = c.q_pos0;
      p.n_keys = c.n_keys;
      p.block_size = c.block;
      p.scale = 1.0f / std::sqrt(static_cast<float>(c.hd));
      const int64_t qc = int64_t{c.heads} * c.hd, kc = int64_t{c.kv_heads} * c.hd;
      const std::vector<float> q = random(c.Tq * qc, rng_, -3, 3),
                               k = random(c.key_rows * kc, rng_, -3, 3),
                               v = random(c.key_rows * kc, rng_);
      std::vector<float> out(c.Tq * qc);
      attention(q.data(), qc, k.data(), v.data(), kc, out.data(), qc, c.Tq, p, pool_, isa);
      const std::vector<double> ref = attention_ref(q, k, v, c.Tq, p);
      for (size_t i = 0; i < out.size(); ++i) {
        ASSERT_NEAR(out[i], ref[i], 2e-5) << "element " << i;  // |v| <= 1
      }
    }
  }
}

TEST_P(Kernels, SwigluEveryIsa) {
  const int64_t n = 5000 + 13;  // a tail past whole vectors
  std::vector<float> g = random(n, rng_, -30, 30), u = random(n, rng_, -2, 2);
  g[0] = -100.0f;  // e^100 overflows f32: silu must still be ~0, not NaN
  g[1] = 100.0f;
  for (Isa isa : supported_isas()) {
    SCOPED_TRACE(isa_name(isa));
    std::vector<float> out(n);
    swiglu(g.data(), u.data(), out.data(), n, pool_, isa);
    for (int64_t i = 0; i < n; ++i) {
      const double ref = g[i] / (1.0 + std::exp(-double{g[i]})) * u[i];
      ASSERT_NEAR(out[i], ref, 4e-6 * std::fabs(ref) + 1e-30) << "g " << g[i] << " u " << u[i];
    }
  }
}

TEST(VecMath, ExpWithinTwoUlpOverItsRange) {
  // The generic 4-lane build of the exp used by attention and SwiGLU.
  for (float x = -87.0f; x < 88.0f; x += 0.0137f) {
    simd::Vec<4> v = {x, x * 0.5f, -x * 0.25f, x / 3};
    const simd::Vec<4> e = simd::exp<4>(v);
    for (int i = 0; i < 4; ++i) {
      const double ref = std::exp(double{v[i]});
      ASSERT_NEAR(e[i], ref, 2.5e-7 * ref) << "exp(" << v[i] << ")";
    }
  }
}

// scripts/test-arm64.sh runs the tests once per emulated core and names the level each run must
// detect (from getauxval on ARM): the run tests the kernels it means to.
TEST(CpuFeatures, DetectsTheLevelTheRunExpects) {
  const char* want = std::getenv("DLX_EXPECT_ISA");
  if (!want) GTEST_SKIP() << "DLX_EXPECT_ISA is not set (scripts/test-arm64.sh sets it)";
  EXPECT_STREQ(isa_name(best_isa()), want) << cpu_features().describe();
}

TEST(CpuFeatures, DescribeNamesTheExtensionsOfTheBestLevel) {
  const std::string d = cpu_features().describe();
  const Isa best = best_isa();
  const bool neon = best == Isa::kNeon || best == Isa::kNeonDot || best == Isa::kNeonI8mm;
  if (neon) {
    EXPECT_EQ(d.rfind("neon", 0), 0u) << d;
  }
  if (best == Isa::kNeonDot || best == Isa::kNeonI8mm) {
    EXPECT_NE(d.find("+dotprod"), d.npos) << d;
  }
  if (best == Isa::kNeonI8mm) {
    EXPECT_NE(d.find("+i8mm"), d.npos) << d;
  }
  if (best == Isa::kAvx512) {
    EXPECT_EQ(d.rfind("avx512", 0), 0u) << d;
  }
  EXPECT_TRUE(isa_supported(best));
  EXPECT_TRUE(isa_supported(Isa::kGeneric));
}

INSTANTIATE_TEST_SUITE_P(Threads, Kernels, ::testing::Values(1, 2, 3));

}  // namespace
}  // namespace dlx::cpu
