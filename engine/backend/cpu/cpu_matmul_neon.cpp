// AArch64 NEON matmul (ASIMD, part of every ARMv8-A core): 4 x 4 register tiles of 4-lane f32
// FMA partial dot products along K, as the AVX2 kernel with 128-bit vectors (16 of the 32 vector
// registers hold the accumulators). bf16 weights are widened in registers by a 16-bit left shift
// (USHLL), f16 ones by FCVTL: no per-tile copy as in the portable kernel. A K tail that is not a
// whole vector is added in scalar code.
#include "engine/backend/cpu/cpu_matmul.h"

#if defined(__aarch64__)
#include <arm_neon.h>

#include <algorithm>

namespace dlx::cpu::detail {
namespace {

constexpr int kNW = 4;  // weight rows per register tile
constexpr int kMT = 4;  // activation rows per register tile

// Weight element k of a row, as f32 (for the scalar tail).
template <DType D>
inline float weight_at(const void* row, int64_t k) {
  if constexpr (D == DType::kF32) {
    return static_cast<const float*>(row)[k];
  } else if constexpr (D == DType::kBF16) {
    return bf16_to_f32(static_cast<const uint16_t*>(row)[k]);
  } else {
    return f16_to_f32(static_cast<const uint16_t*>(row)[k]);
  }
}

// 4 weights at k, as f32.
template <DType D>
inline float32x4_t load4(const void* row, int64_t k) {
  if constexpr (D == DType::kF32) {
    return vld1q_f32(static_cast<const float*>(row) + k);
  } else if constexpr (D == DType::kBF16) {
    const uint16x4_t u = vld1_u16(static_cast<const uint16_t*>(row) + k);
    return vreinterpretq_f32_u32(vshll_n_u16(u, 16));  // bf16 is the top half of an f32
  } else {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(static_cast<const uint16_t*>(row) + k)));
  }
}

// R activation rows (K apart) x 4 weight rows.
template <DType D, int R>
inline void tile(const float* x, int64_t K, const void* const* wr, float* y, int64_t ldy,
                 const float* bias, int nw) {
  float32x4_t acc[R][kNW];
  for (int t = 0; t < R; ++t) {
    for (int j = 0; j < kNW; ++j) acc[t][j] = vdupq_n_f32(0.0f);
  }
  int64_t k = 0;
  for (; k + 4 <= K; k += 4) {
    float32x4_t w[kNW];
    for (int j = 0; j < kNW; ++j) w[j] = load4<D>(wr[j], k);
    for (int t = 0; t < R; ++t) {
      const float32x4_t xt = vld1q_f32(x + t * K + k);
      for (int j = 0; j < kNW; ++j) acc[t][j] = vfmaq_f32(acc[t][j], xt, w[j]);
    }
  }
  for (int t = 0; t < R; ++t) {
    for (int j = 0; j < nw; ++j) {
      float v = vaddvq_f32(acc[t][j]);
      for (int64_t kk = k; kk < K; ++kk) v += x[t * K + kk] * weight_at<D>(wr[j], kk);
      y[t * ldy + j] = v + (bias ? bias[j] : 0.0f);
    }
  }
}

template <DType D>
void rows(const MatmulCall& c, int64_t n0, int64_t n1) {
  const int64_t wbytes = static_cast<int64_t>(dtype_size(D));
  // Activation rows kept in cache while weight tiles stream past them.
  const int64_t chunk = std::max<int64_t>(kMT, kXChunkBytes / (c.K * 4) / kMT * kMT);
  const auto* wbase = static_cast<const uint8_t*>(c.w);
  for (int64_t t0 = 0; t0 < c.T; t0 += chunk) {
    const int64_t t1 = std::min(c.T, t0 + chunk);
    for (int64_t n = n0; n < n1; n += kNW) {
      const int nw = static_cast<int>(std::min<int64_t>(kNW, n1 - n));
      const void* wr[kNW];
      for (int j = 0; j < kNW; ++j) wr[j] = wbase + (n + std::min(j, nw - 1)) * c.K * wbytes;
      const float* b = c.bias ? c.bias + n : nullptr;
      int64_t t = t0;
      for (; t + kMT <= t1; t += kMT) {
        tile<D, kMT>(c.x + t * c.K, c.K, wr, c.y + t * c.ldy + n, c.ldy, b, nw);
      }
      for (; t < t1; ++t) tile<D, 1>(c.x + t * c.K, c.K, wr, c.y + t * c.ldy + n, c.ldy, b, nw);
    }
  }
}

}  // namespace

void matmul_neon(const MatmulCall& c, ThreadPool& pool) {
  auto columns = [&](auto&& fn) { parallel_columns(c.N, kNW, pool, fn); };
  switch (c.wtype) {
    case DType::kF32:
      columns([&](int64_t n0, int64_t n1) { rows<DType::kF32>(c, n0, n1); });
      return;
    case DType::kF16:
      columns([&](int64_t n0, int64_t n1) { rows<DType::kF16>(c, n0, n1); });
      return;
    case DType::kBF16:
      columns([&](int64_t n0, int64_t n1) { rows<DType::kBF16>(c, n0, n1); });
      return;
    default:
      matmul_generic(c, pool);
  }
}

}  // namespace dlx::cpu::detail

#endif  // __aarch64__
