// AVX2 + FMA matmul kernels (x86-64-v3): the AVX-512 scheme (cpu_matmul_avx512.cpp) with
// 8-lane vectors and 3 x 4 register tiles, as 16 ymm registers allow. A K tail that is not a
// whole vector is added in scalar code.
#include "engine/backend/cpu/cpu_matmul.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include <algorithm>
#include <vector>

#pragma GCC diagnostic ignored "-Wpsabi"

#define DLX_AVX2_TARGET "avx2,fma,f16c"
#define DLX_AVX2 __attribute__((target(DLX_AVX2_TARGET)))
#define DLX_AVX2_INLINE __attribute__((target(DLX_AVX2_TARGET), always_inline)) inline

namespace dlx::cpu::detail {
namespace {

constexpr int kNW = 4;  // weight rows per register tile
constexpr int kMT = 3;  // activation rows per register tile

// [sum(a), sum(b), sum(c), sum(d)]
DLX_AVX2_INLINE __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
  const __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

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

// 8 weights at k as f32 (f32 and f16 rows).
template <DType D>
DLX_AVX2_INLINE __m256 load8(const void* row, int64_t k) {
  if constexpr (D == DType::kF32) {
    return _mm256_loadu_ps(static_cast<const float*>(row) + k);
  } else {
    return _mm256_cvtph_ps(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(row) + k)));
  }
}

// R activation rows x 4 weight rows. For bf16, xv are the de-interleaved rows (per 16-block, 8
// even then 8 odd values) and `x` the original rows, read only by the scalar tail.
template <DType D, int R>
DLX_AVX2_INLINE void tile(const float* x, const float* xv, int64_t ldxv, int64_t K,
                          const void* const* wr, float* y, int64_t ldy, const float* bias, int nw) {
  __m256 acc[R][kNW];
#pragma GCC unroll 8
  for (int t = 0; t < R; ++t) {
#pragma GCC unroll 4
    for (int j = 0; j < kNW; ++j) acc[t][j] = _mm256_setzero_ps();
  }
  int64_t k = 0;
  if constexpr (D == DType::kBF16) {
    const __m256i hi_mask = _mm256_set1_epi32(static_cast<int>(0xffff0000u));
    for (; k + 16 <= K; k += 16) {
      __m256i u[kNW];
      __m256 w[kNW];
#pragma GCC unroll 4
      for (int j = 0; j < kNW; ++j) {
        u[j] = _mm256_loadu_si256(
            reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(wr[j]) + k));
        w[j] = _mm256_castsi256_ps(_mm256_slli_epi32(u[j], 16));
      }
#pragma GCC unroll 8
      for (int t = 0; t < R; ++t) {
        const __m256 xe = _mm256_loadu_ps(xv + t * ldxv + k);
#pragma GCC unroll 4
        for (int j = 0; j < kNW; ++j) acc[t][j] = _mm256_fmadd_ps(xe, w[j], acc[t][j]);
      }
#pragma GCC unroll 4
      for (int j = 0; j < kNW; ++j) w[j] = _mm256_castsi256_ps(_mm256_and_si256(u[j], hi_mask));
#pragma GCC unroll 8
      for (int t = 0; t < R; ++t) {
        const __m256 xo = _mm256_loadu_ps(xv + t * ldxv + k + 8);
#pragma GCC unroll 4
        for (int j = 0; j < kNW; ++j) acc[t][j] = _mm256_fmadd_ps(xo, w[j], acc[t][j]);
      }
    }
  } else {
    for (; k + 8 <= K; k += 8) {
      __m256 w[kNW];
#pragma GCC unroll 4
      for (int j = 0; j < kNW; ++j) w[j] = load8<D>(wr[j], k);
#pragma GCC unroll 8
      for (int t = 0; t < R; ++t) {
        const __m256 xt = _mm256_loadu_ps(xv + t * ldxv + k);
#pragma GCC unroll 4
        for (int j = 0; j < kNW; ++j) acc[t][j] = _mm256_fmadd_ps(xt, w[j], acc[t][j]);
      }
    }
  }
  for (int t = 0; t < R; ++t) {
    alignas(16) float s[4];
    _mm_store_ps(s, hsum4(acc[t][0], acc[t][1], acc[t][2], acc[t][3]));
    for (int j = 0; j < nw; ++j) {
      float v = s[j];
      for (int64_t kk = k; kk < K; ++kk) v += x[t * K + kk] * weight_at<D>(wr[j], kk);
      y[t * ldy + j] = v + (bias ? bias[j] : 0.0f);
    }
  }
}

template <DType D>
DLX_AVX2 void rows(const MatmulCall& c, const float* xv, int64_t ldxv, int64_t n0, int64_t n1) {
  const int64_t wbytes = static_cast<int64_t>(dtype_size(D));
  const int64_t chunk =
      std::max<int64_t>(kMT, kXChunkBytes / (std::max<int64_t>(ldxv, 16) * 4) / kMT * kMT);
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
        tile<D, kMT>(c.x + t * c.K, xv + t * ldxv, ldxv, c.K, wr, c.y + t * c.ldy + n, c.ldy, b,
                     nw);
      }
      for (; t < t1; ++t) {
        tile<D, 1>(c.x + t * c.K, xv + t * ldxv, ldxv, c.K, wr, c.y + t * c.ldy + n, c.ldy, b, nw);
      }
    }
  }
}

// x [T, K] -> per 16-block, 8 even-index values then 8 odd ones (whole blocks only).
void deinterleave_rows(const float* x, int64_t T, int64_t K, float* out) {
  const int64_t K16 = K / 16 * 16;
  for (int64_t t = 0; t < T; ++t) {
    const float* xr = x + t * K;
    float* o = out + t * K16;
    for (int64_t k = 0; k < K16; k += 16) {
      for (int i = 0; i < 8; ++i) {
        o[k + i] = xr[k + 2 * i];
        o[k + 8 + i] = xr[k + 2 * i + 1];
      }
    }
  }
}

}  // namespace

void matmul_avx2(const MatmulCall& c, ThreadPool& pool) {
  auto columns = [&](auto&& fn) { parallel_columns(c.N, kNW, pool, fn); };
  switch (c.wtype) {
    case DType::kF32:
      columns([&](int64_t n0, int64_t n1) { rows<DType::kF32>(c, c.x, c.K, n0, n1); });
      return;
    case DType::kF16:
      columns([&](int64_t n0, int64_t n1) { rows<DType::kF16>(c, c.x, c.K, n0, n1); });
      return;
    case DType::kBF16: {
      thread_local std::vector<float> xp;  // per calling thread, reused
      const int64_t K16 = c.K / 16 * 16;
      xp.resize(static_cast<size_t>(std::max<int64_t>(1, c.T * K16)));
      deinterleave_rows(c.x, c.T, c.K, xp.data());
      const float* xpd = xp.data();  // a lambda does not capture a thread_local
      columns([&](int64_t n0, int64_t n1) { rows<DType::kBF16>(c, xpd, K16, n0, n1); });
      return;
    }
    default:
      matmul_generic(c, pool);
  }
}

}  // namespace dlx::cpu::detail

#endif  // x86-64
