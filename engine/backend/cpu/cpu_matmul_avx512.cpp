// AVX-512 matmul kernels. A register tile holds MT activation rows x 4 weight rows of 16-lane
// partial dot products along K; each weight vector loaded once serves MT rows, each activation
// vector 4 weight rows, and the 16 lanes are summed once per output at the end. Weights are
// read in their file layout ([N, K], K contiguous), so nothing is packed or copied.
#include "engine/backend/cpu/cpu_matmul.h"

#if defined(__x86_64__) && defined(__GNUC__)
// GCC 12 warns inside its own AVX-512 headers (the "undefined" vectors of casts and
// conversions, GCC bug 105593, fixed in GCC 13); the pragma must precede the include.
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // GCC only (clang has no such warning)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
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

// The next weight tile's lines, requested into L2 a few per K step by the tile kernels, so the
// memory traffic overlaps the arithmetic instead of stalling in a burst (or on first use).
struct Prefetch {
  const uint8_t* base = nullptr;  // first row of the next tile (at this K block)
  int64_t stride = 0;             // bytes between its rows
  int64_t row_bytes = 0;          // bytes to fetch per row
  int64_t rows = 0;               // rows to fetch
  int64_t row = 0, off = 0;       // next line
  int64_t budget = 0;             // lines the current row tile may still request

  __attribute__((always_inline)) void one() {
    if (budget <= 0 || row >= rows) return;
    __builtin_prefetch(base + row * stride + off, 0, 2);
    --budget;
    off += 64;
    if (off >= row_bytes) {
      off = 0;
      ++row;
    }
  }
  void rest() {
    while (budget > 0 && row < rows) one();
  }
};

// Everything a tile needs besides its activations: 4 weight rows, where its outputs go.
struct TileArgs {
  const void* wr[kNW];  // weight rows (rows past nw repeat the last real one)
  int64_t K;            // K of this block
  float* y;             // y[0, 0] of the tile
  int64_t ldy;
  const float* bias;  // null, or bias of the tile's first column (first K block only)
  int nw;             // real weight rows, 1..4
  bool accumulate;    // add to y (a later K block)
  Prefetch* pf;
};

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

// Sums each accumulator and writes row t's nw outputs: y = s (+ bias) (+ y when accumulating).
template <int MT>
DLX_AVX512_INLINE void store_tile(__m512 (&acc)[MT][kNW], const TileArgs& a) {
  const __mmask8 m = static_cast<__mmask8>((1u << a.nw) - 1);
#pragma GCC unroll 16
  for (int t = 0; t < MT; ++t) {
    float* y = a.y + t * a.ldy;
    __m128 s = hsum4(acc[t][0], acc[t][1], acc[t][2], acc[t][3]);
    if (a.bias) s = _mm_add_ps(s, _mm_maskz_loadu_ps(m, a.bias));
    if (a.accumulate) s = _mm_add_ps(s, _mm_maskz_loadu_ps(m, y));
    _mm_mask_storeu_ps(y, m, s);
  }
}

template <int MT>
DLX_AVX512_INLINE void zero(__m512 (&acc)[MT][kNW]) {
#pragma GCC unroll 16
  for (int t = 0; t < MT; ++t) {
#pragma GCC unroll 4
    for (int j = 0; j < kNW; ++j) acc[t][j] = _mm512_setzero_ps();
  }
}

// Weight loaders: 16 weights at k as f32, or the first `m` of them (the rest 0).
struct F32Weights {
  DLX_AVX512_INLINE static __m512 load(const void* row, int64_t k) {
    return _mm512_loadu_ps(static_cast<const float*>(row) + k);
  }
  DLX_AVX512_INLINE static __m512 load_tail(const void* row, int64_t k, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, static_cast<const float*>(row) + k);
  }
};

struct F16Weights {
  DLX_AVX512_INLINE static __m512 load(const void* row, int64_t k) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(
        reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(row) + k)));
  }
  DLX_AVX512_INLINE static __m512 load_tail(const void* row, int64_t k, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(row) + k));
  }
};

// acc[t][j] += x[t, k..k+16) * w_j[k..k+16) (the first `m` lanes).
template <class WL, int MT, bool kTail>
DLX_AVX512_INLINE void f32_step(__m512 (&acc)[MT][kNW], const float* x, int64_t ldx,
                                const void* const* wr, int64_t k, __mmask16 m) {
  __m512 w[kNW];
#pragma GCC unroll 4
  for (int j = 0; j < kNW; ++j) w[j] = kTail ? WL::load_tail(wr[j], k, m) : WL::load(wr[j], k);
#pragma GCC unroll 16
  for (int t = 0; t < MT; ++t) {
    const __m512 xv =
        kTail ? _mm512_maskz_loadu_ps(m, x + t * ldx + k) : _mm512_loadu_ps(x + t * ldx + k);
#pragma GCC unroll 4
    for (int j = 0; j < kNW; ++j) acc[t][j] = _mm512_fmadd_ps(xv, w[j], acc[t][j]);
  }
}

// f32 or f16 weights: MT activation rows (x, rows ldx apart) x 4 weight rows over the K block.
template <class WL, int MT>
DLX_AVX512_INLINE void tile_wide(const float* x, int64_t ldx, const TileArgs& a) {
  __m512 acc[MT][kNW];
  zero<MT>(acc);
  int64_t k = 0;
  for (; k + 16 <= a.K; k += 16) {
    f32_step<WL, MT, false>(acc, x, ldx, a.wr, k, 0);
    a.pf->one();
  }
  if (k < a.K) f32_step<WL, MT, true>(acc, x, ldx, a.wr, k, (1u << (a.K - k)) - 1);
  a.pf->rest();
  store_tile<MT>(acc, a);
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
DLX_AVX512_INLINE void tile_bf16(const float* xp, int64_t ldx, const TileArgs& a) {
  __m512 acc[MT][kNW];
  zero<MT>(acc);
  int64_t k = 0;
  for (; k + 32 <= a.K; k += 32) {
    bf16_step<MT>(acc, xp, ldx, a.wr, k, ~__mmask32{0});
    a.pf->one();
  }
  if (k < a.K)
    bf16_step<MT>(acc, xp, ldx, a.wr, k, static_cast<__mmask32>((1ull << (a.K - k)) - 1));
  a.pf->rest();
  store_tile<MT>(acc, a);
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
DLX_AVX512BF16_INLINE void tile_bf16dot(const uint16_t* xb, int64_t ldx, const TileArgs& a) {
  __m512 acc[MT][kNW];
  zero<MT>(acc);
  int64_t k = 0;
  for (; k + 32 <= a.K; k += 32) {
    bf16dot_step<MT>(acc, xb, ldx, a.wr, k, ~__mmask32{0});
    a.pf->one();
  }
  if (k < a.K) {
    bf16dot_step<MT>(acc, xb, ldx, a.wr, k, static_cast<__mmask32>((1ull << (a.K - k)) - 1));
  }
  a.pf->rest();
  store_tile<MT>(acc, a);
}

// Tile kernels as types, so one driver serves them all: Tile::run<R> for R activation rows. A
// call per tile (not inlined) costs nothing next to its R x 4 x K multiply-adds, and keeps the
// driver free of target-specific code.
struct TileF32 {
  using X = float;
  template <int R>
  DLX_AVX512 __attribute__((noinline)) static void run(const X* x, int64_t ldx, const TileArgs& a) {
    tile_wide<F32Weights, R>(x, ldx, a);
  }
};
struct TileF16 {
  using X = float;
  template <int R>
  DLX_AVX512 __attribute__((noinline)) static void run(const X* x, int64_t ldx, const TileArgs& a) {
    tile_wide<F16Weights, R>(x, ldx, a);
  }
};
struct TileBF16 {
  using X = float;
  template <int R>
  DLX_AVX512 __attribute__((noinline)) static void run(const X* x, int64_t ldx, const TileArgs& a) {
    tile_bf16<R>(x, ldx, a);
  }
};
struct TileBF16Dot {
  using X = uint16_t;
  template <int R>
  DLX_AVX512BF16 __attribute__((noinline)) static void run(const X* x, int64_t ldx,
                                                           const TileArgs& a) {
    tile_bf16dot<R>(x, ldx, a);
  }
};

// Output columns [n0, n1). Activation rows go in chunks that stay in L2; K goes in blocks of
// at most kKBlockBytes per weight row, so a 4-row weight block stays in L1 while every row tile
// of the chunk passes over it; later K blocks add to y. Row tiles have MT rows, the chunk's last
// one fewer. While a weight tile is in use, the next one is prefetched.
constexpr int64_t kKBlockBytes = 4096;

template <class Tile, int MT>
void rows(const MatmulCall& c, const typename Tile::X* x, int64_t ldx, int wbytes, int64_t n0,
          int64_t n1) {
  using X = typename Tile::X;
  static_assert(MT >= 1 && MT <= 7, "row tiles of 1..7 rows");
  const int64_t k_block = kKBlockBytes / wbytes;
  const int64_t n_kb = (c.K + k_block - 1) / k_block;
  const int64_t kc = ((c.K + n_kb - 1) / n_kb + 31) / 32 * 32;  // balanced, whole 32-blocks
  const int64_t chunk =
      std::max<int64_t>(MT, kXChunkBytes / (kc * static_cast<int64_t>(sizeof(X))) / MT * MT);
  const auto* wbase = static_cast<const uint8_t*>(c.w);
  const int64_t wrow = c.K * wbytes;
  for (int64_t t0 = 0; t0 < c.T; t0 += chunk) {
    const int64_t t1 = std::min(c.T, t0 + chunk);
    const int64_t row_tiles = (t1 - t0 + MT - 1) / MT;
    for (int64_t kb = 0; kb < c.K; kb += kc) {
      const int64_t kn = std::min(kc, c.K - kb);
      const X* xk = x + kb;
      for (int64_t n = n0; n < n1; n += kNW) {
        TileArgs a;
        a.nw = static_cast<int>(std::min<int64_t>(kNW, n1 - n));
        for (int j = 0; j < kNW; ++j) {
          a.wr[j] = wbase + (n + std::min(j, a.nw - 1)) * wrow + kb * wbytes;
        }
        a.K = kn;
        a.ldy = c.ldy;
        a.accumulate = kb > 0;
        a.bias = c.bias && kb == 0 ? c.bias + n : nullptr;
        Prefetch pf;
        pf.base = wbase + (n + kNW) * wrow + kb * wbytes;
        pf.stride = wrow;
        pf.row_bytes = kn * wbytes;
        pf.rows = std::clamp<int64_t>(n1 - n - kNW, 0, kNW);
        const int64_t lines = pf.rows * ((pf.row_bytes + 63) / 64);
        const int64_t per_tile = (lines + row_tiles - 1) / row_tiles;  // spread over row tiles
        a.pf = &pf;
        for (int64_t t = t0; t < t1; t += MT) {
          pf.budget = per_tile;
          const X* xr = xk + t * ldx;
          a.y = c.y + t * c.ldy + n;
          switch (std::min<int64_t>(MT, t1 - t)) {
            case 1:
              Tile::template run<1>(xr, ldx, a);
              break;
            case 2:
              Tile::template run<2>(xr, ldx, a);
              break;
            case 3:
              Tile::template run<3>(xr, ldx, a);
              break;
            case 4:
              Tile::template run<4>(xr, ldx, a);
              break;
            case 5:
              Tile::template run<5>(xr, ldx, a);
              break;
            case 6:
              Tile::template run<6>(xr, ldx, a);
              break;
            case 7:
              Tile::template run<7>(xr, ldx, a);
              break;
            default:
              break;
          }
        }
      }
    }
  }
}

void rows_f32(const MatmulCall& c, int64_t n0, int64_t n1) {
  rows<TileF32, 4>(c, c.x, c.K, 4, n0, n1);
}
void rows_f16(const MatmulCall& c, int64_t n0, int64_t n1) {
  rows<TileF16, 4>(c, c.x, c.K, 2, n0, n1);
}
void rows_bf16(const MatmulCall& c, const float* xp, int64_t ldx, int64_t n0, int64_t n1) {
  rows<TileBF16, 4>(c, xp, ldx, 2, n0, n1);
}
void rows_bf16dot(const MatmulCall& c, const uint16_t* xb, int64_t ldx, int64_t n0, int64_t n1) {
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
      parallel_columns(c.N, kNW, pool, [&](int64_t n0, int64_t n1) { rows_f32(c, n0, n1); });
      return;
    case DType::kF16:
      parallel_columns(c.N, kNW, pool, [&](int64_t n0, int64_t n1) { rows_f16(c, n0, n1); });
      return;
    case DType::kBF16: {
      // Per calling thread, reused: no allocation per call once it has grown.
      thread_local std::vector<float> xp;
      const int64_t K32 = (c.K + 31) / 32 * 32;
      xp.resize(static_cast<size_t>(c.T * K32));
      deinterleave_rows(c.x, c.T, c.K, xp.data(), K32);
      // A lambda does not capture a thread_local: the workers must get the pointer.
      const float* xpd = xp.data();
      parallel_columns(c.N, kNW, pool,
                       [&](int64_t n0, int64_t n1) { rows_bf16(c, xpd, K32, n0, n1); });
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
  parallel_columns(c.N, kNW, pool,
                   [&](int64_t n0, int64_t n1) { rows_bf16dot(c, xbd, K32, n0, n1); });
}

}  // namespace dlx::cpu::detail

#endif  // x86-64
