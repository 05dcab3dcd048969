// Matmul for block-quantized weights (Q8_0, Q4_0 in llama.cpp's layouts). The activations are
// quantized per row, on the fly, to int8 blocks of 32 with one scale each (quantize_row_q8);
// each (weight block, activation block) pair is then an exact integer dot product scaled by
// d_w * d_x. The weights stay quantized: nothing is widened or copied.
//
// Integer products are made unsigned x signed (what vpdpbusd / vpmaddubsw multiply):
//   Q8_0: w + 128 (w ^ 0x80) is unsigned, so sum w*x = sum (w+128)*x - 128 * sum x;
//   Q4_0: the nibble n = w + 8 is unsigned, so sum w*x = sum n*x - 8 * sum x;
// sum x per activation block is computed once when quantizing (ActRows::sum). The AVX-512 VNNI
// kernel (cpu_matmul_quant_vnni.inc) multiplies two blocks per 512-bit vpdpbusd and starts the
// integer lanes at the offset correction, so only the f32 scaling remains per block pair.
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/backend/cpu/cpu_matmul.h"
#include "engine/formats/quant.h"

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // GCC only (clang has no such warning)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#pragma GCC diagnostic ignored "-Wpsabi"
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

namespace dlx::cpu {

void quantize_row_q8(const float* x, int64_t K, int8_t* q, float* d, int32_t* sum) {
  for (int64_t b = 0; b < K / 32; ++b) {
    const float* xb = x + 32 * b;
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(xb[j]));
    // As ggml quantizes activations for its Q8_0 / Q4_0 products (llama.cpp's CPU backend):
    // the scale kept at f16 precision and x * 127 / amax rounded to nearest even, so a GGUF file
    // gives llama.cpp's logits to f32 summation order (tests/engine/model/gguf_interop_test).
    const float db = f16_to_f32(f32_to_f16(amax / 127.0f));
    const float id = amax != 0 ? 127.0f / amax : 0.0f;
    int32_t s = 0;
    for (int j = 0; j < 32; ++j) {
      const int v = static_cast<int>(std::nearbyint(xb[j] * id));  // |v| <= 127
      q[32 * b + j] = static_cast<int8_t>(v);
      s += v;
    }
    d[b] = db;
    sum[b] = s;
  }
}

namespace detail {
namespace {

constexpr int kMT = 4;  // activation rows per tile
constexpr int kNT = 4;  // weight rows per tile of the 512-bit pair kernel
// Activation rows per tile of the 512-bit panel kernel (16 weight rows per panel,
// cpu_matmul_quant_vnni.inc; 6 rows spill registers).
constexpr int kPanelRows = 4;

struct alignas(64) Line {
  uint8_t b[64];
};

// Block pair p (blocks 2p, 2p + 1) of one activation row spread over the 16 int32 lanes that a
// 512-bit vpdpbusd of the pair fills (8 lanes per block): the block's scale d_x, and the offset
// correction -off/8 * sum x that each of its 8 lanes starts from, so the lanes add up to the
// exact signed dot (off = 128 for Q8_0, 8 for Q4_0). Lanes of a missing last block are zero.
struct alignas(64) PairScale {
  float d[16];
  int32_t c[16];
};

// The quantized activations: row t has K int8 values at q + t*K, and K/32 scales and block sums;
// for the 512-bit kernel also np = ceil(K/64) PairScales per row at ps + t*np.
struct ActRows {
  const int8_t* q;
  const float* d;
  const int32_t* sum;
  int64_t K, nb;
  const PairScale* ps = nullptr;
  int64_t np = 0;
};

void pair_scales(const float* d, const int32_t* sum, int64_t nb, int32_t off8, PairScale* ps) {
  for (int64_t p = 0; p < (nb + 1) / 2; ++p) {
    for (int h = 0; h < 2; ++h) {
      const int64_t b = 2 * p + h;
      for (int l = 0; l < 8; ++l) {
        ps[p].d[8 * h + l] = b < nb ? d[b] : 0.0f;
        ps[p].c[8 * h + l] = b < nb ? -off8 * sum[b] : 0;
      }
    }
  }
}

// One weight row decoded to what the dot products need: its block scales as f32.
inline void row_scales(const uint8_t* row, DType wtype, int64_t nb, float* wd) {
  const size_t bb = dtype_block_bytes(wtype);
  for (int64_t b = 0; b < nb; ++b) {
    uint16_t h;
    std::memcpy(&h, row + b * bb, 2);
    wd[b] = f16_to_f32(h);
  }
}

// The same as row_scales, each block's scale repeated over its 8 lanes of a block pair
// (wde[p * 16 + lane], zero for a missing last block).
inline void row_pair_scales(const uint8_t* row, DType wtype, int64_t nb, float* wde) {
  const size_t bb = dtype_block_bytes(wtype);
  for (int64_t b = 0; b < (nb + 1) / 2 * 2; ++b) {
    float v = 0;
    if (b < nb) {
      uint16_t h;
      std::memcpy(&h, row + b * bb, 2);
      v = f16_to_f32(h);
    }
    for (int l = 0; l < 8; ++l) wde[8 * b + l] = v;
  }
}

// ---- portable ----

inline int32_t block_dot_generic(const uint8_t* wb, DType wtype, const int8_t* xq) {
  int32_t s = 0;
  if (wtype == DType::kQ8_0) {
    const auto* q = reinterpret_cast<const int8_t*>(wb + 2);
    for (int j = 0; j < 32; ++j) s += int32_t{q[j]} * xq[j];
  } else {
    const uint8_t* qs = wb + 2;
    for (int j = 0; j < 16; ++j) {
      s += ((qs[j] & 15) - 8) * int32_t{xq[j]} + ((qs[j] >> 4) - 8) * int32_t{xq[16 + j]};
    }
  }
  return s;
}

void rows_generic(const MatmulCall& c, const ActRows& a, int64_t t0, int64_t t1, int64_t n,
                  const float* wd) {
  const size_t bb = dtype_block_bytes(c.wtype);
  const auto* row = static_cast<const uint8_t*>(c.w) + n * dtype_row_bytes(c.wtype, c.K);
  for (int64_t t = t0; t < t1; ++t) {
    float acc = 0;
    for (int64_t b = 0; b < a.nb; ++b) {
      const int32_t s = block_dot_generic(row + b * bb, c.wtype, a.q + t * a.K + 32 * b);
      acc += wd[b] * a.d[t * a.nb + b] * static_cast<float>(s);
    }
    c.y[t * c.ldy + n] = acc + (c.bias ? c.bias[n] : 0.0f);
  }
}

#if defined(__x86_64__) && defined(__GNUC__)

#define DLX_QAVX2 __attribute__((target("avx2,fma")))
#define DLX_QAVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) inline
#define DLX_QVNNI_INLINE \
  __attribute__((target("avx2,fma,avx512f,avx512vl,avx512bw,avx512vnni"), always_inline)) inline

DLX_QAVX2_INLINE float hsum8(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 h = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
}

// The 32 unsigned bytes of a weight block (w + 128 for Q8_0, the nibbles for Q4_0), and the
// offset they carry.
DLX_QAVX2_INLINE __m256i load_unsigned(const uint8_t* wb, DType wtype) {
  if (wtype == DType::kQ8_0) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + 2));
    return _mm256_xor_si256(q, _mm256_set1_epi8(static_cast<char>(0x80)));
  }
  const __m128i qs = _mm_loadu_si128(reinterpret_cast<const __m128i*>(wb + 2));
  const __m128i m = _mm_set1_epi8(15);
  const __m128i lo = _mm_and_si128(qs, m);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(qs, 4), m);
  return _mm256_set_m128i(hi, lo);
}

// Eight int32 partial sums of u[j] * x[j] over one block. AVX2 has no vpdpbusd: vpmaddubsw
// adds pairs into int16 with saturation, which (w+128) * x can exceed, so Q8_0 uses |w| and
// x with w's sign there instead (|w| <= 128: pairs stay within 2 * 128 * 127 < 32767).
struct BlockDot {
  DLX_QAVX2_INLINE static __m256i q8(const uint8_t* wb, const int8_t* xq) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + 2));
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq));
    const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
  }
  DLX_QAVX2_INLINE static __m256i q4(__m256i u, const int8_t* xq) {  // u = nibbles: no offset
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq));
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, x), _mm256_set1_epi16(1));
  }
};

namespace avx2 {
#if defined(__clang__)  // clang has no GCC target pragma: the same as an attribute
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#include "engine/backend/cpu/cpu_matmul_quant_x86.inc"
#pragma clang attribute pop
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#include "engine/backend/cpu/cpu_matmul_quant_x86.inc"
#pragma GCC pop_options
#endif
}  // namespace avx2

namespace vnni {
#if defined(__clang__)
#pragma clang attribute push( \
    __attribute__((target("avx2,fma,avx512f,avx512vl,avx512bw,avx512vnni"))), apply_to = function)
#include "engine/backend/cpu/cpu_matmul_quant_vnni.inc"
#pragma clang attribute pop
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,avx512f,avx512vl,avx512bw,avx512vnni")
#include "engine/backend/cpu/cpu_matmul_quant_vnni.inc"
#pragma GCC pop_options
#endif
}  // namespace vnni

#endif

#if defined(__aarch64__)
#include "engine/backend/cpu/cpu_matmul_quant_neon.inc"
#endif

}  // namespace

#if defined(__x86_64__) && defined(__GNUC__)
void quantize_row_q8_avx512(const float* x, int64_t K, int8_t* q, float* d, int32_t* sum) {
  vnni::quantize_row_q8_512(x, K, q, d, sum);
}
#endif

void matmul_quant(const MatmulCall& c, ThreadPool& pool, QuantKernel kernel) {
  const int64_t K = c.K, nb = K / 32;
  // Quantized activations, reused across calls by the calling thread (no per-step allocation
  // once the largest shape has been seen).
  thread_local std::vector<int8_t> xq;
  thread_local std::vector<float> xd;
  thread_local std::vector<int32_t> xs;
  xq.resize(std::max(xq.size(), static_cast<size_t>(c.T * K)));
  xd.resize(std::max(xd.size(), static_cast<size_t>(c.T * nb)));
  xs.resize(std::max(xs.size(), static_cast<size_t>(c.T * nb)));
  int8_t* q = xq.data();
  float* d = xd.data();
  int32_t* s = xs.data();
  // AVX-512 VNNI: weight rows in panels of 16 (repacking them pays even for one activation
  // row), the last N % 16 rows by block pairs.
  const bool wide = kernel == QuantKernel::kAvx512Vnni;
  const bool pairs = wide && c.N % 16 != 0;
  auto* quantize_act = &quantize_row_q8;
#if defined(__x86_64__) && defined(__GNUC__)
  if (wide) quantize_act = &quantize_row_q8_avx512;
#endif
  const int64_t np = (nb + 1) / 2;
  thread_local std::vector<PairScale> xp;
  thread_local std::vector<int32_t> xcorr;
  if (pairs) xp.resize(std::max(xp.size(), static_cast<size_t>(c.T * np)));
  if (wide) xcorr.resize(std::max(xcorr.size(), static_cast<size_t>(c.T * nb)));
  // (a thread_local named inside the lambdas is the worker's own: pointers are taken here)
  PairScale* ps = xp.data();
  int32_t* xc = xcorr.data();
  const int32_t off = c.wtype == DType::kQ8_0 ? 128 : 8;
  pool.parallel_for(c.T, 4, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      quantize_act(c.x + t * K, K, q + t * K, d + t * nb, s + t * nb);
      if (pairs) pair_scales(d + t * nb, s + t * nb, nb, off / 8, ps + t * np);
      if (wide) {
        for (int64_t b = 0; b < nb; ++b) xc[t * nb + b] = -off * s[t * nb + b];
      }
    }
  });
  const ActRows a{q, d, s, K, nb, ps, np};
#if defined(__x86_64__) && defined(__GNUC__)
  if (wide) {
    parallel_columns(c.N, 16, pool, [&](int64_t n0, int64_t n1) {
      thread_local std::vector<Line> pu, pws, wde;  // two panels, their scales; pair scales
      pu.resize(static_cast<size_t>(2 * nb * 8));
      pws.resize(static_cast<size_t>(2 * nb));
      int64_t n = n0;
      while (n + 16 <= n1) {
        const int g = n + 32 <= n1 ? 2 : 1;
        vnni::panel_rows(c, a, xc, n, g, pu.data(), reinterpret_cast<float*>(pws.data()));
        n += 16 * g;
      }
      // The last N % 16 rows.
      wde.resize(static_cast<size_t>(kNT * np));
      auto* wf = reinterpret_cast<float*>(wde.data());
      const size_t rb = dtype_row_bytes(c.wtype, K);
      for (; n < n1; n += kNT) {
        const int w = static_cast<int>(std::min<int64_t>(kNT, n1 - n));
        for (int j = 0; j < w; ++j) {
          row_pair_scales(static_cast<const uint8_t*>(c.w) + (n + j) * rb, c.wtype, nb,
                          wf + j * np * 16);
        }
        vnni::rows512(c, a, 0, c.T, n, w, wf);
      }
    });
    return;
  }
#endif
  // Activation rows kept in cache while weight rows stream past them.
  const int64_t chunk = std::max<int64_t>(kMT, kXChunkBytes / K / kMT * kMT);
  parallel_columns(c.N, 4, pool, [&](int64_t n0, int64_t n1) {
    thread_local std::vector<float> wd;  // two weight rows' block scales, per worker thread
    wd.resize(static_cast<size_t>(2 * nb));
    const auto* wbase = static_cast<const uint8_t*>(c.w);
    const size_t rb = dtype_row_bytes(c.wtype, K);
    for (int64_t t0 = 0; t0 < c.T; t0 += chunk) {
      const int64_t t1 = std::min(c.T, t0 + chunk);
      for (int64_t n = n0; n < n1; n += 2) {
        const int w = n + 1 < n1 ? 2 : 1;
        for (int j = 0; j < w; ++j)
          row_scales(wbase + (n + j) * rb, c.wtype, nb, wd.data() + j * nb);
#if defined(__x86_64__) && defined(__GNUC__)
        if (kernel == QuantKernel::kAvx2) {
          avx2::rows_x86(c, a, t0, t1, n, w, wd.data());
          continue;
        }
#elif defined(__aarch64__)
        if (kernel != QuantKernel::kGeneric) {
          rows_neon(c, a, t0, t1, n, w, wd.data(), kernel);
          continue;
        }
#endif
        for (int j = 0; j < w; ++j) rows_generic(c, a, t0, t1, n + j, wd.data() + j * nb);
      }
    }
  });
}

}  // namespace detail
}  // namespace dlx::cpu
