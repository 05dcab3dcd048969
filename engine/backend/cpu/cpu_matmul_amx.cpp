// AMX (Advanced Matrix Extensions) bf16 matmul: y[T, N] = bf16(x)[T, K] @ w[N, K]^T with
// TDPBF16PS, 16 x 16 f32 outputs from 16 x 32 bf16 times 32 x 16 bf16 per instruction (about
// 16x the work of one vdpbf16ps). Products are exact, sums f32: the same arithmetic as the
// AVX512_BF16 kernel in another order.
//
// Operands: A = 16 weight rows x 32 values, read in place from the weights' file layout
// ([N, K], K contiguous, row stride 2K bytes): nothing is packed or copied. B = the
// activations in the "VNNI" pair layout TDPBF16PS wants (B row r holds, for 16 tokens t,
// the pair x[t, k0 + 2r], x[t, k0 + 2r + 1]), packed once per call. C[m][t] is then the
// output of weight row m for token t: it is transposed on the way to y.
//
// Register use: tmm0..3 = C (2 weight tiles x 2 token tiles), tmm4..5 = A, tmm6..7 = B; each
// A tile loaded serves 2 token tiles and each B tile 2 weight tiles.
#include "engine/backend/cpu/cpu_matmul.h"

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#pragma GCC diagnostic ignored "-Wpsabi"

#define DLX_AMX_TARGET "avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,amx-tile,amx-bf16"
#define DLX_AMX __attribute__((target(DLX_AMX_TARGET)))

namespace dlx::cpu::detail {
namespace {

constexpr int64_t kTile = 16;   // rows of a tile (weights or tokens)
constexpr int64_t kKStep = 32;  // bf16 values of K per tile row (64 bytes)

// The 64-byte tile configuration LDTILECFG reads (palette 1): tmm0..7 all 16 rows x 64
// bytes, the rest unused (reserved bytes and unused tiles must be zero, or it faults).
struct alignas(64) TileConfig {
  uint8_t palette;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];  // bytes per row of tmm0..15
  uint8_t rows[16];
};
constexpr TileConfig kTileConfig = {
    1, 0, {}, {64, 64, 64, 64, 64, 64, 64, 64}, {16, 16, 16, 16, 16, 16, 16, 16}};

DLX_AMX void configure_tiles() {
  _tile_loadconfig(&kTileConfig);
}

// Transposes the 16 x 16 matrix of 32-bit values in r (r[i] = row i) in place: 16 each of
// 32-bit and 64-bit unpacks and two rounds of 128-bit lane shuffles.
DLX_AMX void transpose16(__m512 (&r)[16]) {
  __m512 t[16];
#pragma GCC unroll 8
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  // Per 128-bit lane j, rows 4q..4q+3 of column 4j + c land in u[4q + c].
  __m512 u[16];
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    const __m512d a = _mm512_castps_pd(t[4 * q]), b = _mm512_castps_pd(t[4 * q + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * q + 2]), d = _mm512_castps_pd(t[4 * q + 3]);
    u[4 * q + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    u[4 * q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    u[4 * q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    u[4 * q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  // Column c of every row: lane j of u[c], u[4 + c], u[8 + c], u[12 + c] is column 4j + c.
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    const __m512 lo01 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44);  // lanes 0,1 of each
    const __m512 hi01 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);  // lanes 2,3
    const __m512 lo23 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44);
    const __m512 hi23 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
    r[c] = _mm512_shuffle_f32x4(lo01, lo23, 0x88);       // column c
    r[4 + c] = _mm512_shuffle_f32x4(lo01, lo23, 0xDD);   // column 4 + c
    r[8 + c] = _mm512_shuffle_f32x4(hi01, hi23, 0x88);   // column 8 + c
    r[12 + c] = _mm512_shuffle_f32x4(hi01, hi23, 0xDD);  // column 12 + c
  }
}

// x [T, K] (K % 32 == 0) -> xb: per token tile g (16 tokens, zero past T) and K step s, a
// 16 x 16 block of bf16 pairs: xb[((g * S + s) * 16 + r) * 16 + t] = pair r of token t.
DLX_AMX void pack_activations(const float* x, int64_t T, int64_t K, uint32_t* xb) {
  const int64_t S = K / kKStep, G = (T + kTile - 1) / kTile;
  for (int64_t g = 0; g < G; ++g) {
    const int nt = static_cast<int>(std::min<int64_t>(kTile, T - g * kTile));
    for (int64_t s = 0; s < S; ++s) {
      __m512 r[16];  // token t: its 16 pairs of K step s
#pragma GCC unroll 16
      for (int t = 0; t < 16; ++t) {
        if (t < nt) {
          const float* xr = x + (g * kTile + t) * K + s * kKStep;
          r[t] = (__m512)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(xr + 16), _mm512_loadu_ps(xr));
        } else {
          r[t] = _mm512_setzero_ps();
        }
      }
      transpose16(r);  // r[pair]: that pair of the 16 tokens
      float* dst = reinterpret_cast<float*>(xb + (g * S + s) * kTile * kTile);
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i) _mm512_storeu_ps(dst + i * kTile, r[i]);
    }
  }
}

// Writes one 16 x 16 C tile (c[m][t]: weight row m, token t) to y[t, n0 + m] for the first
// `nt` tokens and `nw` weight rows, adding the bias.
DLX_AMX void store_transposed(const float* c, float* y, int64_t ldy, const float* bias, int nw,
                              int nt) {
  const __mmask16 m = static_cast<__mmask16>((1u << nw) - 1);
  const __m512 b = bias ? _mm512_maskz_loadu_ps(m, bias) : _mm512_setzero_ps();
  __m512 r[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) r[i] = _mm512_load_ps(c + i * kTile);
  transpose16(r);  // r[t]: token t's outputs of the 16 weight rows
  for (int t = 0; t < nt; ++t) _mm512_mask_storeu_ps(y + t * ldy, m, _mm512_add_ps(r[t], b));
}

// Weight rows [n, n + 16 * NA) x token tiles [g, g + NB): C tiles over the whole K.
template <int NA, int NB>
DLX_AMX void block(const MatmulCall& c, const uint32_t* xb, int64_t n, int64_t g, int nw_last) {
  const int64_t S = c.K / kKStep;
  const int64_t wstride = c.K * 2;
  const auto* w0 = static_cast<const uint8_t*>(c.w) + n * wstride;
  const auto* w1 = w0 + kTile * wstride;
  const uint32_t* b0 = xb + g * S * kTile * kTile;
  const uint32_t* b1 = b0 + S * kTile * kTile;
  _tile_zero(0);
  if (NB > 1) _tile_zero(1);
  if (NA > 1) _tile_zero(2);
  if (NA > 1 && NB > 1) _tile_zero(3);
  for (int64_t s = 0; s < S; ++s) {
    _tile_loadd(4, w0 + s * 64, wstride);
    _tile_loadd(6, b0 + s * kTile * kTile, 64);
    _tile_dpbf16ps(0, 4, 6);
    if (NB > 1) {
      _tile_loadd(7, b1 + s * kTile * kTile, 64);
      _tile_dpbf16ps(1, 4, 7);
    }
    if (NA > 1) {
      _tile_loadd(5, w1 + s * 64, wstride);
      _tile_dpbf16ps(2, 5, 6);
      if (NB > 1) _tile_dpbf16ps(3, 5, 7);
    }
  }
  alignas(64) float cbuf[4][kTile * kTile];
  _tile_stored(0, cbuf[0], 64);
  if (NB > 1) _tile_stored(1, cbuf[1], 64);
  if (NA > 1) _tile_stored(2, cbuf[2], 64);
  if (NA > 1 && NB > 1) _tile_stored(3, cbuf[3], 64);
  for (int a = 0; a < NA; ++a) {
    const int64_t nn = n + a * kTile;
    const int nw = a + 1 == NA ? nw_last : static_cast<int>(kTile);
    for (int bt = 0; bt < NB; ++bt) {
      const int64_t t0 = (g + bt) * kTile;
      const int nt = static_cast<int>(std::min<int64_t>(kTile, c.T - t0));
      store_transposed(cbuf[a * 2 + bt], c.y + t0 * c.ldy + nn, c.ldy,
                       c.bias ? c.bias + nn : nullptr, nw, nt);
    }
  }
}

template <int NA>
DLX_AMX void weight_block(const MatmulCall& c, const uint32_t* xb, int64_t n) {
  const int64_t G = (c.T + kTile - 1) / kTile;
  int64_t g = 0;
  for (; g + 2 <= G; g += 2) block<NA, 2>(c, xb, n, g, kTile);
  if (g < G) block<NA, 1>(c, xb, n, g, kTile);
}

// Output columns [n0, n1), a multiple of 16 (the N % 16 tail is not AMX's).
DLX_AMX void columns(const MatmulCall& c, const uint32_t* xb, int64_t n0, int64_t n1) {
  configure_tiles();
  int64_t n = n0;
  for (; n + 2 * kTile <= n1; n += 2 * kTile) weight_block<2>(c, xb, n);
  if (n + kTile <= n1) weight_block<1>(c, xb, n);
  _tile_release();
}

bool request_amx_permission() {
  // Linux keeps the 8 KB tile state off until a process asks (ARCH_REQ_XCOMP_PERM for
  // XFEATURE_XTILEDATA); the permission then holds for all its threads.
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

}  // namespace

bool amx_bf16_usable() {
  static const bool ok = [] {
    __builtin_cpu_init();
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    // CPUID leaf 7: EDX bit 22 AMX-BF16, bit 24 AMX-TILE.
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
    const bool cpu =
        (edx & (1u << 22)) && (edx & (1u << 24)) && __builtin_cpu_supports("avx512bf16");
    // DLX_CPU_AMX=0 keeps the AVX512_BF16 kernel (to compare them).
    const char* env = std::getenv("DLX_CPU_AMX");
    if (env && std::string(env) == "0") return false;
    return cpu && request_amx_permission();
  }();
  return ok;
}

void matmul_amx_bf16(const MatmulCall& c, ThreadPool& pool) {
  // Packed activations, per calling thread and reused: no allocation per call once grown.
  thread_local std::vector<uint32_t> xb;
  const int64_t G = (c.T + kTile - 1) / kTile;
  xb.resize(static_cast<size_t>(G * c.K / 2 * kTile));
  pack_activations(c.x, c.T, c.K, xb.data());
  const uint32_t* xbd = xb.data();
  const int64_t N16 = c.N / kTile * kTile;
  if (N16 > 0) {
    parallel_columns(N16, 2 * kTile, pool,
                     [&](int64_t n0, int64_t n1) { columns(c, xbd, n0, n1); });
  }
  if (N16 < c.N) {
    // The last N % 16 rows: the AVX512_BF16 kernel (a partial A tile would read past w).
    MatmulCall tail = c;
    tail.w = static_cast<const uint8_t*>(c.w) + N16 * c.K * 2;
    tail.N = c.N - N16;
    tail.bias = c.bias ? c.bias + N16 : nullptr;
    tail.y = c.y + N16;
    matmul_avx512_bf16dot(tail, pool);
  }
}

}  // namespace dlx::cpu::detail

#endif  // x86-64
