// CPU attention and SwiGLU, written once on width-generic vectors (cpu_vecmath.h) and built for
// AVX-512, AVX2, AArch64 NEON and plain C++; cpu::attention / cpu::swiglu pick one at run time.
//
// Attention works on tiles of QR query rows of one head: scores S = (q * scale) K^T with keys
// along the vector lanes (K is transposed once per call into [KV][hd][keys]), a softmax over each
// row's visible keys (vectorized exp), then out = P V with head dims along the lanes.
// The vector types below never cross a library boundary.
#pragma GCC diagnostic ignored "-Wpsabi"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/backend/cpu/cpu_features.h"
#include "engine/backend/cpu/cpu_kernels.h"
#include "engine/backend/cpu/cpu_vecmath.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define DLX_X86 1
#define DLX_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define DLX_TARGET_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace dlx::cpu {
namespace {

using simd::Vec;

struct AttnCall {
  const float* q;
  int64_t ldq;
  const float* kt;  // [KV][hd][kpad]: keys transposed, zero beyond n_keys
  int64_t kpad;
  const float* v;
  int64_t ldkv;
  float* out;
  int64_t ldo;
  const AttentionParams* p;
};

// Keys visible to the query at absolute position qpos.
inline int64_t visible_keys(const AttentionParams& p, int64_t qpos) {
  if (p.block_size <= 0) return p.n_keys;
  return std::min(p.n_keys, (qpos / p.block_size + 1) * p.block_size);
}

// out[t0 + r, h*hd + d0 + i) = inv[r] * sum_j P[r, j] v[j, g*hd + d0 + i) for NV vectors of
// head dims; returns the next d0.
template <int W, int QR, int NV>
DLX_SIMD_INLINE int pv_block(const AttnCall& a, int h, int64_t t0, int nr, const float* S,
                             const float* inv, int64_t kmax, int d0) {
  const AttentionParams& p = *a.p;
  const int hd = p.head_dim;
  const float* vg = a.v + int64_t{h / (p.heads / p.kv_heads)} * hd + d0;
  Vec<W> acc[QR][NV] = {};
  for (int64_t j = 0; j < kmax; ++j) {
    const float* vr = vg + j * a.ldkv;
    Vec<W> vv[NV];
#pragma GCC unroll 4
    for (int i = 0; i < NV; ++i) vv[i] = simd::load<W>(vr + i * W);
#pragma GCC unroll 8
    for (int r = 0; r < QR; ++r) {
      const float pj = S[r * a.kpad + j];
#pragma GCC unroll 4
      for (int i = 0; i < NV; ++i) acc[r][i] += pj * vv[i];
    }
  }
  for (int r = 0; r < nr; ++r) {
    float* o = a.out + (t0 + r) * a.ldo + int64_t{h} * hd + d0;
    for (int i = 0; i < NV; ++i) simd::store<W>(o + i * W, acc[r][i] * inv[r]);
  }
  return d0 + NV * W;
}

// out rows [t0, t0 + nr) of head h; nr <= QR. S: QR x kpad scratch, qs: QR x hd scratch.
template <int W, int QR>
DLX_SIMD_INLINE void attention_tile(const AttnCall& a, int h, int64_t t0, int nr, float* S,
                                    float* qs) {
  const AttentionParams& p = *a.p;
  const int hd = p.head_dim;
  const int g = h / (p.heads / p.kv_heads);
  const int64_t kpad = a.kpad;
  int64_t vis[QR];
  for (int r = 0; r < QR; ++r) {
    const int rr = std::min(r, nr - 1);  // rows past nr repeat the last one; never stored
    vis[r] = visible_keys(p, p.q_pos0 + t0 + rr);
    const float* qr = a.q + (t0 + rr) * a.ldq + int64_t{h} * hd;
    for (int d = 0; d < hd; ++d) qs[r * hd + d] = qr[d] * p.scale;
  }
  const int64_t kmax = vis[QR - 1];  // visibility never shrinks down the rows
  const int64_t kmax_pad = std::min(kpad, (kmax + 2 * W - 1) / (2 * W) * (2 * W));

  // S = qs K^T over keys [0, kmax_pad), two vectors of keys at a time.
  const float* ktg = a.kt + int64_t{g} * hd * kpad;
  for (int64_t j = 0; j < kmax_pad; j += 2 * W) {
    Vec<W> acc[QR][2] = {};
    for (int d = 0; d < hd; ++d) {
      const Vec<W> k0 = simd::load<W>(ktg + d * kpad + j);
      const Vec<W> k1 = simd::load<W>(ktg + d * kpad + j + W);
#pragma GCC unroll 8
      for (int r = 0; r < QR; ++r) {
        // A scalar operand is broadcast by the compiler (one vbroadcastss / embedded {1toN}).
        const float qd = qs[r * hd + d];
        acc[r][0] += qd * k0;
        acc[r][1] += qd * k1;
      }
    }
    for (int r = 0; r < QR; ++r) {
      simd::store<W>(S + r * kpad + j, acc[r][0]);
      simd::store<W>(S + r * kpad + j + W, acc[r][1]);
    }
  }

  // Softmax numerators in place; lanes at or past a row's visible keys become 0.
  Vec<W> iota;
  for (int i = 0; i < W; ++i) iota[i] = static_cast<float>(i);
  float inv[QR];
  for (int r = 0; r < QR; ++r) {
    float* s = S + r * kpad;
    const Vec<W> limit = simd::splat<W>(static_cast<float>(vis[r]));
    Vec<W> mx = simd::splat<W>(-INFINITY);
    for (int64_t j = 0; j < kmax_pad; j += W) {
      const Vec<W> idx = iota + static_cast<float>(j);
      const Vec<W> x = simd::load<W>(s + j);
      mx = idx < limit ? (x > mx ? x : mx) : mx;
    }
    const Vec<W> m = simd::splat<W>(simd::hmax<W>(mx));
    Vec<W> sum = {};
    for (int64_t j = 0; j < kmax_pad; j += W) {
      const Vec<W> idx = iota + static_cast<float>(j);
      Vec<W> e = simd::exp<W>(simd::load<W>(s + j) - m);
      e = idx < limit ? e : Vec<W>{};
      sum += e;
      simd::store<W>(s + j, e);
    }
    inv[r] = 1.0f / simd::hsum<W>(sum);
  }

  // out = P V, up to 4 vectors of head dims at a time.
  int d0 = 0;
  while (hd - d0 >= 4 * W) d0 = pv_block<W, QR, 4>(a, h, t0, nr, S, inv, kmax, d0);
  if (hd - d0 >= 2 * W) d0 = pv_block<W, QR, 2>(a, h, t0, nr, S, inv, kmax, d0);
  if (hd - d0 >= W) d0 = pv_block<W, QR, 1>(a, h, t0, nr, S, inv, kmax, d0);
  const float* vg = a.v + int64_t{g} * hd;
  for (; d0 < hd; ++d0) {  // head dims that do not fill a vector
    for (int r = 0; r < nr; ++r) {
      float acc = 0;
      for (int64_t j = 0; j < kmax; ++j) acc += S[r * kpad + j] * vg[j * a.ldkv + d0];
      a.out[(t0 + r) * a.ldo + int64_t{h} * hd + d0] = acc * inv[r];
    }
  }
}

// Work items [i0, i1) of (query tile of QR rows, head); scratch per worker thread.
template <int W, int QR>
DLX_SIMD_INLINE void attention_items(const AttnCall& a, int64_t Tq, int64_t i0, int64_t i1) {
  const AttentionParams& p = *a.p;
  thread_local std::vector<float> scratch;
  scratch.resize(static_cast<size_t>(QR * (a.kpad + p.head_dim)));
  for (int64_t i = i0; i < i1; ++i) {
    const int h = static_cast<int>(i % p.heads);
    const int64_t t0 = (i / p.heads) * QR;
    const int nr = static_cast<int>(std::min<int64_t>(QR, Tq - t0));
    attention_tile<W, QR>(a, h, t0, nr, scratch.data(), scratch.data() + QR * a.kpad);
  }
}

template <int W>
DLX_SIMD_INLINE void swiglu_impl(const float* g, const float* u, float* o, int64_t n) {
  int64_t i = 0;
  const Vec<W> one = simd::splat<W>(1.0f);
  for (; i + W <= n; i += W) {
    const Vec<W> gv = simd::load<W>(g + i);
    simd::store<W>(o + i, gv / (one + simd::exp<W>(-gv)) * simd::load<W>(u + i));
  }
  for (; i < n; ++i) o[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

// Entry points per instruction set: the width-generic code above is inlined into each and
// compiled for its target. Lambdas do not inherit a target, so the pool calls these.
using ItemsFn = void (*)(const AttnCall&, int64_t, int64_t, int64_t);
using SwigluFn = void (*)(const float*, const float*, float*, int64_t);
#ifdef DLX_X86
DLX_TARGET_AVX512 void attention_items_avx512(const AttnCall& a, int64_t Tq, int64_t i0,
                                              int64_t i1) {
  attention_items<16, 4>(a, Tq, i0, i1);
}
DLX_TARGET_AVX2 void attention_items_avx2(const AttnCall& a, int64_t Tq, int64_t i0, int64_t i1) {
  attention_items<8, 2>(a, Tq, i0, i1);
}
DLX_TARGET_AVX512 void swiglu_avx512(const float* g, const float* u, float* o, int64_t n) {
  swiglu_impl<16>(g, u, o, n);
}
DLX_TARGET_AVX2 void swiglu_avx2(const float* g, const float* u, float* o, int64_t n) {
  swiglu_impl<8>(g, u, o, n);
}
#endif
#if defined(__aarch64__)
// On AArch64 the 128-bit vectors of the portable level are NEON code already (ASIMD is part of
// ARMv8-A), and so is its SwiGLU. The NEON levels' attention takes a taller query tile: 32 vector
// registers hold the scores of 8 query rows x 2 key vectors (16 on x86 fit 4 rows).
void attention_items_neon(const AttnCall& a, int64_t Tq, int64_t i0, int64_t i1) {
  attention_items<4, 8>(a, Tq, i0, i1);
}
#endif
void attention_items_generic(const AttnCall& a, int64_t Tq, int64_t i0, int64_t i1) {
  attention_items<4, 4>(a, Tq, i0, i1);
}
void swiglu_generic(const float* g, const float* u, float* o, int64_t n) {
  swiglu_impl<4>(g, u, o, n);
}

}  // namespace

void attention(const float* q, int64_t ldq, const float* k, const float* v, int64_t ldkv,
               float* out, int64_t ldo, int64_t Tq, const AttentionParams& p, ThreadPool& pool,
               Isa isa) {
  const int W = isa == Isa::kAvx512 ? 16 : isa == Isa::kAvx2 ? 8 : 4;
  // Keys transposed per KV head, zero-padded to whole pairs of vectors: the score loop then
  // needs no masks. Per calling thread, reused across calls.
  thread_local std::vector<float> kt;
  const int hd = p.head_dim;
  const int64_t kpad = (p.n_keys + 2 * W - 1) / (2 * W) * (2 * W);
  kt.assign(static_cast<size_t>(p.kv_heads) * hd * kpad, 0.0f);
  float* ktp = kt.data();
  pool.parallel_for(int64_t{p.kv_heads} * hd, 8, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {  // r = g * hd + d: column g*hd + d of k
      float* dst = ktp + r * kpad;
      for (int64_t j = 0; j < p.n_keys; ++j) dst[j] = k[j * ldkv + r];
    }
  });
  const AttnCall a{q, ldq, ktp, kpad, v, ldkv, out, ldo, &p};
  ItemsFn items = attention_items_generic;
  int QR = 4;
#ifdef DLX_X86
  if (isa == Isa::kAvx512) {
    items = attention_items_avx512;
  } else if (isa == Isa::kAvx2) {
    items = attention_items_avx2;
    QR = 2;
  }
#elif defined(__aarch64__)
  if (isa == Isa::kNeon || isa == Isa::kNeonDot || isa == Isa::kNeonI8mm) {
    items = attention_items_neon;
    QR = 8;
  }
#endif
  const int64_t tiles = (Tq + QR - 1) / QR;
  pool.parallel_for(tiles * p.heads, 1, [&](int64_t i0, int64_t i1) { items(a, Tq, i0, i1); });
}

void swiglu(const float* gate, const float* up, float* out, int64_t n, ThreadPool& pool, Isa isa) {
  SwigluFn fn = swiglu_generic;
#ifdef DLX_X86
  if (isa == Isa::kAvx512) {
    fn = swiglu_avx512;
  } else if (isa == Isa::kAvx2) {
    fn = swiglu_avx2;
  }
#else
  (void)isa;  // one level on other CPUs (on AArch64 it is NEON code, see attention_items_neon)
#endif
  pool.parallel_for(n, 16384, [&](int64_t b, int64_t e) { fn(gate + b, up + b, out + b, e - b); });
}

}  // namespace dlx::cpu
