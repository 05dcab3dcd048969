// Portable matmul (any CPU; ARM NEON or SSE through the compiler's vector extensions): 4 x 4
// register tiles of 4-lane partial dot products along K. bf16 / f16 weight tiles are widened to
// f32 once per tile into a per-thread buffer and reused by every activation row.
#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/backend/cpu/cpu_matmul.h"

#pragma GCC diagnostic ignored "-Wpsabi"

namespace dlx::cpu::detail {
namespace {

using v4f = float __attribute__((vector_size(16)));
constexpr int kNW = 4;  // weight rows per tile
constexpr int kMT = 4;  // activation rows per tile

inline v4f load4(const float* p) {
  v4f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline float lanes_sum(v4f v) {
  return (v[0] + v[1]) + (v[2] + v[3]);
}

// R activation rows (rows K apart) x 4 f32 weight rows (wr).
template <int R>
void tile(const float* x, int64_t K, const float* const* wr, float* y, int64_t ldy,
          const float* bias, int nw) {
  v4f acc[R][kNW] = {};
  int64_t k = 0;
  for (; k + 4 <= K; k += 4) {
    v4f w[kNW];
    for (int j = 0; j < kNW; ++j) w[j] = load4(wr[j] + k);
    for (int t = 0; t < R; ++t) {
      const v4f xv = load4(x + t * K + k);
      for (int j = 0; j < kNW; ++j) acc[t][j] += xv * w[j];
    }
  }
  for (int t = 0; t < R; ++t) {
    for (int j = 0; j < nw; ++j) {
      float s = lanes_sum(acc[t][j]);
      for (int64_t kk = k; kk < K; ++kk) s += x[t * K + kk] * wr[j][kk];
      y[t * ldy + j] = s + (bias ? bias[j] : 0.0f);
    }
  }
}

void rows(const MatmulCall& c, int64_t n0, int64_t n1) {
  const int64_t K = c.K;
  const size_t rb = dtype_row_bytes(c.wtype, K);
  const auto* wbase = static_cast<const uint8_t*>(c.w);
  thread_local std::vector<float> wide;  // 4 widened weight rows, per worker thread
  if (c.wtype != DType::kF32) wide.resize(static_cast<size_t>(kNW * K));
  const int64_t chunk = std::max<int64_t>(kMT, kXChunkBytes / (K * 4) / kMT * kMT);
  for (int64_t t0 = 0; t0 < c.T; t0 += chunk) {
    const int64_t t1 = std::min(c.T, t0 + chunk);
    for (int64_t n = n0; n < n1; n += kNW) {
      const int nw = static_cast<int>(std::min<int64_t>(kNW, n1 - n));
      const float* wr[kNW];
      for (int j = 0; j < kNW; ++j) {
        const int64_t row = n + std::min(j, nw - 1);
        if (c.wtype == DType::kF32) {
          wr[j] = reinterpret_cast<const float*>(wbase + row * rb);
        } else {
          if (j < nw) to_f32(wbase + row * rb, c.wtype, K, wide.data() + j * K);
          wr[j] = wide.data() + std::min(j, nw - 1) * K;
        }
      }
      const float* b = c.bias ? c.bias + n : nullptr;
      int64_t t = t0;
      for (; t + kMT <= t1; t += kMT)
        tile<kMT>(c.x + t * K, K, wr, c.y + t * c.ldy + n, c.ldy, b, nw);
      for (; t < t1; ++t) tile<1>(c.x + t * K, K, wr, c.y + t * c.ldy + n, c.ldy, b, nw);
    }
  }
}

}  // namespace

void matmul_generic(const MatmulCall& c, ThreadPool& pool) {
  parallel_columns(c.N, kNW, pool, [&](int64_t n0, int64_t n1) { rows(c, n0, n1); });
}

}  // namespace dlx::cpu::detail
