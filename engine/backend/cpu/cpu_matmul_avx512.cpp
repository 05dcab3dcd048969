// AVX-512 matmul kernels. A register tile holds MT activation rows x 4 weight rows of 16-lane
// partial dot products along K; each weight vector loaded once serves MT rows, each activation
// vector 4 weight rows, and the 16 lanes are summed once per output at the end. Weights are
// read in their file layout ([N, K], K contiguous), so nothing is packed or copied.
#include "engine/backend/cpu/cpu_matmul.h"

#if defined(__x86_64__) && defined(__GNUC__)
// GCC 12 warns inside its own AVX-512 headers (the "undefined" vectors of casts and
// conversions, GCC bug 105593, fixed in GCC 13); the pragma must precede the include.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <vector>

// The vector types below never cross a library boundary.
#pragma GCC diagnostic ignored "-Wpsabi"

#define DLX_AVX512_TARGET "avx512f,avx512bw,avx512dq,avx512vl,fma"
#define DLX_AVX512 __attribute__((target(DLX_AVX512_TARGET)))
#define DLX_AVX512_INLINE __attribute__((target(DLX_AVX512_TARGET), always_inline)) inline
#define DLX_BF16_TARGET DLX_AVX512_TARGET ",avx512bf16"
#define DLX_AVX512BF16 __attribute__((target(DLX_BF16_TARGET)))
#define DLX_AVX512BF16_INLINE __attribute__((target(DLX_BF16_TARGET), always_inline)) inline

namespace dlx::cpu::detail {
namespace {

constexpr int kNW = 4;  // weight rows per register tile

// Low + high 256 bits.
DLX_AVX512_INLINE __m256 half(__m512 v) {
  return _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
}

// [sum(a), sum(b), sum(c), sum(d)]
DLX_AVX512_INLINE __m128 hsum4(__m512 a, __m512 b, __m512 c, __m512 d) {
  const __m256 ab = _mm256_hadd_ps(half(a), half(b));  // a01 a23 b01 b23 | a45 a67 b45 b67
  const __m256 cd = _mm256_hadd_ps(half(c), half(d));
  const __m256 abcd = _mm256_hadd_ps(ab, cd);  // a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

// y[0, nw) = s (+ bias[0, nw)) (+ y[0, nw) when accumulating a later K block), nw in 1..4.
DLX_AVX512_INLINE void store_outputs(float* y, __m128 s, const float* bias, int nw, bool accumulate) {
  const __mmask8 m = static_cast<__mmask8>((1u << nw) - 1);
  if (bias) s = _mm_add_ps(s, _mm_maskz_loadu_ps(m, bias));
  if (accumulate) s = _mm_add_ps(s, _mm_maskz_loadu_ps(m, y));
  _mm_mask_storeu_ps(y, m, s);
}

// Weight loaders: 16 weights at k as f32, or the first `m` of them (the rest 0).
struct F32Weights {
  static constexpr int kBytes = 4;
  DLX_AVX512_INLINE static __m512 load(const void* row, int64_t k) {
    return _mm512_loadu_ps(static_cast<const float*>(row) + k);
  }
  DLX_AVX512_INLINE static __m512 load_tail(const void* row, int64_t k, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, static_cast<const float*>(row) + k);
  }
};

struct F16Weights {
  static constexpr int kBytes = 2;
  DLX_AVX512_INLINE static __m512 load(const void* row, int64_t k) {
    return _mm512_cvtph_ps(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(row) + k)));
  }
  DLX_AVX512_INLINE static __m512 load_tail(const void* row, int64_t k, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(row) + k));
  }
};

// MT activation rows (x, rows ldx apart) x 4 weight rows (wr) over all of K.
template <class WL, int MT>
DLX_AVX512_INLINE void tile(const float* x, int64_t ldx, const void* const* wr, int64_t K,
                            float* y, int64_t ldy, const float* bias, int nw, bool accumulate) {
  __m512 acc[MT][kNW];
#pragma GCC unroll 16
  for (int t = 0; t < MT; ++t) {
#pragma GCC unroll 4
    for (int j = 0; j < kNW; ++j) acc[t][j] = _mm512_setzero_ps();
  }
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    const __m512 w0 = WL::load(wr[0], k), w1 = WL::load(wr[1], k), w2 = WL::load(wr[2], k),
                 w3 = WL::load(wr[3], k);
#pragma GCC unroll 16
    for (int t = 0; t < MT; ++t) {
      const __m512 xv = _mm512_loadu_ps(x + t * ldx + k);
      acc[t][0] = _mm512_fmadd_ps(xv, w0, acc[t][0]);
      acc[t][1] = _mm512_fmadd_ps(xv, w1, acc[t][1]);
      acc[t][2] = _mm512_fmadd_ps(xv, w2, acc[t][2]);
      acc[t][3] = _mm512_fmadd_ps(xv, w3, acc[t][3]);
    }
  }
  if (k < K) {
    const __mmask16 m = static_cast<__mmask16>((1u << (K - k)) - 1);
    const __m512 w0 = WL::load_tail(wr[0], k, m), w1 = WL::load_tail(wr[1], k, m),
                 w2 = WL::load_tail(wr[2], k, m), w3 = WL::load_tail(wr[3], k, m);
#pragma GCC unroll 16
    for (int t = 0; t < MT; ++t) {
      const __m512 xv = _mm512_maskz_loadu_ps(m, x + t * ldx + k);
      acc[t][0] = _mm512_fmadd_ps(xv, w0, acc[t][0]);
      acc[t][1] = _mm512_fmadd_ps(xv, w1, acc[t][1]);
      acc[t][2] = _mm512_fmadd_ps(xv, w2, acc[t][2]);
      acc[t][3] = _mm512_fmadd_ps(xv, w3, acc[t][3]);
    }
  }
#pragma GCC unroll 16
  for (int t = 0; t < MT; ++t) {
    store_outputs(y + t * ldy, hsum4(acc[t][0], acc[t][1], acc[t][2], acc[t][3]), bias, nw,
                  accumulate);
  }
}

// bf16 weights, f32 products. A 512-bit load holds 32 bf16 weights; as 16 u32 lanes, `<< 16`
// gives the even ones as f32 and `& 0xffff0000` the odd ones, exactly. The activations were
// de-interleaved to match (xp: per 32-block, 16 even then 16 odd values; rows ldx apart,
// zero-padded to a multiple of 32), so the products are the same set as in natural order.
template <int MT>
DLX_AVX512_INLINE void bf16_step(__m512 (&acc)[MT][kNW], const float* xp, int64_t ldx,
                                 const void* const* wr, int64_t k, __mmask32 m) {
  const __m512i hi_mask = _mm512_set1_epi32(static_cast<int>(0xffff0000u));
  __m512i u[kNW];
#pragma GCC unroll 4
  for (int j = 0; j < kNW; ++j) {
    u[j] = _mm512_maskz_loadu_epi16(m, static_cast<const uint16_t*>(wr[j]) + k);
  }
  __m512 w[kNW];
#pragma GCC unroll 4
  for (int j = 0; j < kNW; ++j) w[j] = _mm512_castsi512_ps(_mm512_slli_epi32(u[j], 16));
#pragma GCC unroll 16
  for (int t = 0; t < MT; ++t) {
    const __m512 xv = _mm512_loadu_ps(xp + t * ldx + k);
#pragma GCC unroll 4
    for (int j = 0; j < kNW; ++j) acc[t][j] = _mm512_fmadd_ps(xv, w[j], acc[t][j]);
  }
#pragma GCC unroll 4
  for (int j = 0; j < kNW; ++j) w[j] = _mm512_castsi512_ps(_mm512_and_si512(u[j], hi_mask));
#pragma GCC unroll 16
  for (int t = 0; t < MT; ++t) {
    const __m512 xv = _mm512_loadu_ps(xp + t * ldx + k + 16);
#pragma GCC unroll 4
    for (int j = 0; j < kNW; ++j) acc[t][j] = _mm512_fmadd_ps(xv, w[j], acc[t][j]);
  }
}

template <int MT>
DLX_AVX512_INLINE void tile_bf16(const float* xp, int64_t ldx, const void* const* wr, int64_t K,
                                 float* y, int64_t ldy, const float* bias, int nw, bool accumulate) {
  __m512 acc[MT][kNW];
#pragma GCC unroll 16
  for (int t = 0; t < MT; ++t) {
#pragma GCC unroll 4
    for (int j = 0; j < kNW; ++j) acc[t][j] = _mm512_setzero_ps();
  }
  int64_t k = 0;
  for (; k + 32 <= K; k += 32) bf16_step<MT>(acc, xp, ldx, wr, k, ~__mmask32{0});
  if (k < K) bf16_step<MT>(acc, xp, ldx, wr, k, static_cast<__mmask32>((1ull << (K - k)) - 1));
#pragma GCC unroll 16
  for (int t = 0; t < MT; ++t) {
    store_outputs(y + t * ldy, hsum4(acc[t][0], acc[t][1], acc[t][2], acc[t][3]), bias, nw,
                  accumulate);
  }
}

// bf16 weights x bf16 activations (xb: natural order, rows ldx apart, zero-padded to a multiple
// of 32): vdpbf16ps adds the products of 16 adjacent pairs into 16 f32 lanes.
template <int MT>
DLX_AVX512BF16_INLINE void bf16dot_step(__m512 (&acc)[MT][kNW], const uint16_t* xb, int64_t ldx,
                                        const void* const* wr, int64_t k, __mmask32 m) {
  __m512bh w[kNW];
#pragma GCC unroll 4
  for (int j = 0; j < kNW; ++j) {
    w[j] = (__m512bh)_mm512_maskz_loadu_epi16(m, static_cast<const uint16_t*>(wr[j]) + k);
  }
#pragma GCC unroll 16
  for (int t = 0; t < MT; ++t) {
    const __m512bh xv = (__m512bh)_mm512_loadu_si512(xb + t * ldx + k);
#pragma GCC unroll 4
    for (int j = 0; j < kNW; ++j) acc[t][j] = _mm512_dpbf16_ps(acc[t][j], xv, w[j]);
  }
}

template <int MT>
DLX_AVX512BF16_INLINE void tile_bf16dot(const uint16_t* xb, int64_t ldx, const void* const* wr,
                                        int64_t K, float* y, int64_t ldy, const float* bias,
                                        int nw, bool accumulate) {
  __m512 acc[MT][kNW];
#pragma GCC unroll 16
  for (int t = 0; t < MT; ++t) {
#pragma GCC unroll 4
    for (int j = 0; j < kNW; ++j) acc[t][j] = _mm512_setzero_ps();
  }
  int64_t k = 0;
  for (; k + 32 <= K; k += 32) bf16dot_step<MT>(acc, xb, ldx, wr, k, ~__mmask32{0});
  if (k < K) {
    bf16dot_step<MT>(acc, xb, ldx, wr, k, static_cast<__mmask32>((1ull << (K - k)) - 1));
  }
#pragma GCC unroll 16
  for (int t = 0; t < MT; ++t) {
    store_outputs(y + t * ldy, hsum4(acc[t][0], acc[t][1], acc[t][2], acc[t][3]), bias, nw,
                  accumulate);
  }
}

// Tile functions as types, so one driver serves every kernel: Tile::run<R>(...) for R rows.
// A call per tile (not inlined) costs nothing next to its MT x 4 x K multiply-adds, and keeps
// the driver free of target-specific code.
#define DLX_TILE_FN(NAME, FN, XT, ATTR)                                               \
  struct NAME {                                                                       \
    using X = XT;                                                                     \
    template <int R>                                                                  \
    ATTR __attribute__((noinline)) static void run(const X* x, int64_t ldx,           \
                                                   const void* const* wr, int64_t K,  \
                                                   float* y, int64_t ldy,             \
                                                   const float* bias, int nw,         \
                                                   bool accumulate) {                 \
      FN<R>(x, ldx, wr, K, y, ldy, bias, nw, accumulate);                             \
    }                                                                                 \
  };
template <int R>
DLX_AVX512_INLINE void tile_f32(const float* x, int64_t ldx, const void* const* wr, int64_t K,
                                float* y, int64_t ldy, const float* bias, int nw, bool accumulate) {
  tile<F32Weights, R>(x, ldx, wr, K, y, ldy, bias, nw, accumulate);
}
template <int R>
DLX_AVX512_INLINE void tile_f16(const float* x, int64_t ldx, const void* const* wr, int64_t K,
                                float* y, int64_t ldy, const float* bias, int nw, bool accumulate) {
  tile<F16Weights, R>(x, ldx, wr, K, y, ldy, bias, nw, accumulate);
}
DLX_TILE_FN(TileF32, tile_f32, float, DLX_AVX512)
DLX_TILE_FN(TileF16, tile_f16, float, DLX_AVX512)
DLX_TILE_FN(TileBF16, tile_bf16, float, DLX_AVX512)
DLX_TILE_FN(TileBF16Dot, tile_bf16dot, uint16_t, DLX_AVX512BF16)
#undef DLX_TILE_FN

// Output columns [n0, n1). Activation rows go in chunks that stay in L2; K goes in blocks of
// at most kKBlockBytes per weight row, so a 4-row weight block stays in L1 while every row tile
// of the chunk passes over it; later K blocks add to y. Row tiles have MT rows, the chunk's last
// one fewer.
constexpr int64_t kKBlockBytes = 4096;

template <class Tile, int MT>
void rows(const MatmulCall& c, const typename Tile::X* x, int64_t ldx, int wbytes, int64_t n0,
          int64_t n1) {
  using X = typename Tile::X;
  static_assert(MT >= 1 && MT <= 7, "row tiles of 1..7 rows");
  const int64_t k_block = kKBlockBytes / wbytes;
  const int64_t n_kb = (c.K + k_block - 1) / k_block;
  const int64_t kc = ((c.K + n_kb - 1) / n_kb + 31) / 32 * 32;  // balanced, whole 32-blocks
  const int64_t chunk = std::max<int64_t>(
      MT, kXChunkBytes / (kc * static_cast<int64_t>(sizeof(X))) / MT * MT);
  const auto* wbase = static_cast<const uint8_t*>(c.w);
  const int64_t wrow = c.K * wbytes;
  for (int64_t t0 = 0; t0 < c.T; t0 += chunk) {
    const int64_t t1 = std::min(c.T, t0 + chunk);
    const int64_t row_tiles = (t1 - t0 + MT - 1) / MT;
    for (int64_t kb = 0; kb < c.K; kb += kc) {
      const int64_t kn = std::min(kc, c.K - kb);
      const bool accumulate = kb > 0;
      const X* xk = x + kb;
      for (int64_t n = n0; n < n1; n += kNW) {
        const int nw = static_cast<int>(std::min<int64_t>(kNW, n1 - n));
        const void* wr[kNW];
        for (int j = 0; j < kNW; ++j) wr[j] = wbase + (n + std::min(j, nw - 1)) * wrow + kb * wbytes;
        const float* b = c.bias && !accumulate ? c.bias + n : nullptr;
        float* y = c.y + n;
        // The next weight tile's block is prefetched into L2 a slice per row tile, so it
        // arrives while this one computes instead of stalling its first pass.
        const int64_t next_rows = std::clamp<int64_t>(n1 - n - kNW, 0, kNW);
        const int64_t row_bytes = kn * wbytes;
        const int64_t slice = (next_rows * row_bytes / 64 + row_tiles) / row_tiles * 64;
        const uint8_t* next = wbase + (n + kNW) * wrow + kb * wbytes;
        int64_t pf_row = 0, pf_off = 0;  // next byte to prefetch: row, offset in its block
        for (int64_t t = t0; t < t1; t += MT) {
          for (int64_t left = slice; left > 0 && pf_row < next_rows; left -= 64) {
            __builtin_prefetch(next + pf_row * wrow + pf_off, 0, 2);
            pf_off += 64;
            if (pf_off >= row_bytes) {
              pf_off = 0;
              ++pf_row;
            }
          }
          const X* xr = xk + t * ldx;
          float* yr = y + t * c.ldy;
          switch (std::min<int64_t>(MT, t1 - t)) {
            case 1: Tile::template run<1>(xr, ldx, wr, kn, yr, c.ldy, b, nw, accumulate); break;
            case 2: Tile::template run<2>(xr, ldx, wr, kn, yr, c.ldy, b, nw, accumulate); break;
            case 3: Tile::template run<3>(xr, ldx, wr, kn, yr, c.ldy, b, nw, accumulate); break;
            case 4: Tile::template run<4>(xr, ldx, wr, kn, yr, c.ldy, b, nw, accumulate); break;
            case 5: Tile::template run<5>(xr, ldx, wr, kn, yr, c.ldy, b, nw, accumulate); break;
            case 6: Tile::template run<6>(xr, ldx, wr, kn, yr, c.ldy, b, nw, accumulate); break;
            case 7: Tile::template run<7>(xr, ldx, wr, kn, yr, c.ldy, b, nw, accumulate); break;
            default: break;
          }
        }
      }
    }
  }
}

// Splits the output columns over the pool in whole weight tiles.
template <class F>
void parallel_columns(const MatmulCall& c, ThreadPool& pool, F&& fn) {
  const int64_t tiles = (c.N + kNW - 1) / kNW;
  pool.parallel_for(tiles, 1, [&](int64_t a, int64_t b) {
    fn(a * kNW, std::min(c.N, b * kNW));
  });
}

void rows_f32(const MatmulCall& c, int64_t n0, int64_t n1) {
  rows<TileF32, 4>(c, c.x, c.K, 4, n0, n1);
}
void rows_f16(const MatmulCall& c, int64_t n0, int64_t n1) {
  rows<TileF16, 6>(c, c.x, c.K, 2, n0, n1);
}
void rows_bf16(const MatmulCall& c, const float* xp, int64_t ldx, int64_t n0,
                          int64_t n1) {
  rows<TileBF16, 4>(c, xp, ldx, 2, n0, n1);
}
void rows_bf16dot(const MatmulCall& c, const uint16_t* xb, int64_t ldx, int64_t n0,
                                 int64_t n1) {
  rows<TileBF16Dot, 6>(c, xb, ldx, 2, n0, n1);
}

// x [T, K] -> per 32-block, 16 even-index values then 16 odd ones; zero-padded to K32.
DLX_AVX512 void deinterleave_rows(const float* x, int64_t T, int64_t K, float* out, int64_t K32) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  for (int64_t t = 0; t < T; ++t) {
    const float* xr = x + t * K;
    float* o = out + t * K32;
    for (int64_t k = 0; k < K32; k += 32) {
      const int64_t left = K - k;
      const __mmask16 m0 = left >= 16 ? 0xffff : left > 0 ? (1u << left) - 1 : 0;
      const __mmask16 m1 = left >= 32 ? 0xffff : left > 16 ? (1u << (left - 16)) - 1 : 0;
      const __m512 a = _mm512_maskz_loadu_ps(m0, xr + k);
      const __m512 b = _mm512_maskz_loadu_ps(m1, xr + k + 16);
      _mm512_storeu_ps(o + k, _mm512_permutex2var_ps(a, even, b));
      _mm512_storeu_ps(o + k + 16, _mm512_permutex2var_ps(a, odd, b));
    }
  }
}

// x [T, K] -> bf16 (round to nearest even), zero-padded to K32.
DLX_AVX512BF16 void to_bf16_rows(const float* x, int64_t T, int64_t K, uint16_t* out, int64_t K32) {
  for (int64_t t = 0; t < T; ++t) {
    const float* xr = x + t * K;
    uint16_t* o = out + t * K32;
    for (int64_t k = 0; k < K32; k += 32) {
      const int64_t left = K - k;
      const __mmask16 m0 = left >= 16 ? 0xffff : left > 0 ? (1u << left) - 1 : 0;
      const __mmask16 m1 = left >= 32 ? 0xffff : left > 16 ? (1u << (left - 16)) - 1 : 0;
      const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(m1, xr + k + 16),
                                             _mm512_maskz_loadu_ps(m0, xr + k));
      _mm512_storeu_si512(o + k, (__m512i)v);
    }
  }
}

}  // namespace

void matmul_avx512(const MatmulCall& c, ThreadPool& pool) {
  switch (c.wtype) {
    case DType::kF32:
      parallel_columns(c, pool, [&](int64_t n0, int64_t n1) { rows_f32(c, n0, n1); });
      return;
    case DType::kF16:
      parallel_columns(c, pool, [&](int64_t n0, int64_t n1) { rows_f16(c, n0, n1); });
      return;
    case DType::kBF16: {
      // Per calling thread, reused: no allocation per call once it has grown.
      thread_local std::vector<float> xp;
      const int64_t K32 = (c.K + 31) / 32 * 32;
      xp.resize(static_cast<size_t>(c.T * K32));
      deinterleave_rows(c.x, c.T, c.K, xp.data(), K32);
      // A lambda does not capture a thread_local: the workers must get the pointer.
      const float* xpd = xp.data();
      parallel_columns(c, pool, [&](int64_t n0, int64_t n1) { rows_bf16(c, xpd, K32, n0, n1); });
      return;
    }
    default:
      matmul_generic(c, pool);
  }
}

void matmul_avx512_bf16dot(const MatmulCall& c, ThreadPool& pool) {
  thread_local std::vector<uint16_t> xb;
  const int64_t K32 = (c.K + 31) / 32 * 32;
  xb.resize(static_cast<size_t>(c.T * K32));
  to_bf16_rows(c.x, c.T, c.K, xb.data(), K32);
  const uint16_t* xbd = xb.data();  // not xb inside the lambda: that is each worker's own
  parallel_columns(c, pool, [&](int64_t n0, int64_t n1) { rows_bf16dot(c, xbd, K32, n0, n1); });
}

}  // namespace dlx::cpu::detail

#endif  // x86-64
