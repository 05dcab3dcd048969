#include "engine/backend/cpu/cpu_kernels.h"

#include <algorithm>
#include <cstring>
#include <vector>

// The vector types below never cross a library boundary, so the ABI note GCC gives for them
// does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace dlx::cpu {
namespace {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DLX_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define DLX_MULTIVERSION
#endif

using v16f = float __attribute__((vector_size(64)));
using v16u = uint32_t __attribute__((vector_size(64)));
using v16h = uint16_t __attribute__((vector_size(32)));

inline v16f load_f32(const float* p) {
  v16f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline v16f load_bf16(const uint16_t* p) {
  v16h h;
  std::memcpy(&h, p, sizeof h);
  v16u u = __builtin_convertvector(h, v16u) << 16;
  v16f f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline float hsum(v16f v) {
  float s = 0;
  for (int i = 0; i < 16; ++i) s += v[i];
  return s;
}

// Up to 4 token rows x 4 weight rows of dot products over K, 16 lanes at a time.
// W is float or uint16_t (bf16).
template <typename W, int NT>
inline void tile(const float* x, int64_t K, const W* w, int64_t nw, float* y, int64_t ldy,
                 const float* bias) {
  v16f acc[NT][4] = {};
  const int64_t K16 = K & ~int64_t{15};
  for (int64_t k = 0; k < K16; k += 16) {
    v16f wv[4];
    for (int j = 0; j < 4; ++j) {
      if constexpr (sizeof(W) == 4) {
        wv[j] = load_f32(reinterpret_cast<const float*>(w) + j * K + k);
      } else {
        wv[j] = load_bf16(reinterpret_cast<const uint16_t*>(w) + j * K + k);
      }
    }
    for (int t = 0; t < NT; ++t) {
      v16f xv = load_f32(x + t * K + k);
      for (int j = 0; j < 4; ++j) acc[t][j] += xv * wv[j];
    }
  }
  for (int t = 0; t < NT; ++t) {
    for (int j = 0; j < nw; ++j) {
      float s = hsum(acc[t][j]);
      for (int64_t k = K16; k < K; ++k) {
        float wk;
        if constexpr (sizeof(W) == 4) {
          wk = reinterpret_cast<const float*>(w)[j * K + k];
        } else {
          wk = bf16_to_f32(reinterpret_cast<const uint16_t*>(w)[j * K + k]);
        }
        s += x[t * K + k] * wk;
      }
      y[t * ldy + j] = s + (bias ? bias[j] : 0.0f);
    }
  }
}

template <typename W>
void matmul_typed(const float* x, int64_t T, int64_t K, const W* w, int64_t n0, int64_t n1,
                  const float* bias, float* y, int64_t ldy) {
  // A weight tile of 4 rows must be readable as 4 full rows even at the edge: pad by copying.
  std::vector<W> edge;
  for (int64_t n = n0; n < n1; n += 4) {
    int64_t nw = std::min<int64_t>(4, n1 - n);
    const W* wt = w + n * K;
    if (nw < 4) {
      edge.assign(4 * K, W{});
      std::memcpy(edge.data(), wt, nw * K * sizeof(W));
      wt = edge.data();
    }
    const float* b = bias ? bias + n : nullptr;
    int64_t t = 0;
    for (; t + 4 <= T; t += 4) tile<W, 4>(x + t * K, K, wt, nw, y + t * ldy + n, ldy, b);
    for (; t < T; ++t) tile<W, 1>(x + t * K, K, wt, nw, y + t * ldy + n, ldy, b);
  }
}

DLX_MULTIVERSION
void matmul_f32(const float* x, int64_t T, int64_t K, const float* w, int64_t n0, int64_t n1,
                const float* bias, float* y, int64_t ldy) {
  matmul_typed<float>(x, T, K, w, n0, n1, bias, y, ldy);
}

DLX_MULTIVERSION
void matmul_bf16(const float* x, int64_t T, int64_t K, const uint16_t* w, int64_t n0, int64_t n1,
                 const float* bias, float* y, int64_t ldy) {
  matmul_typed<uint16_t>(x, T, K, w, n0, n1, bias, y, ldy);
}

}  // namespace

void to_f32(const void* src, DType dtype, int64_t n, float* dst) {
  switch (dtype) {
    case DType::kF32:
      std::memcpy(dst, src, n * sizeof(float));
      break;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(static_cast<const uint16_t*>(src)[i]);
      break;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(static_cast<const uint16_t*>(src)[i]);
      break;
    case DType::kI32:
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(static_cast<const int32_t*>(src)[i]);
      break;
  }
}

DLX_MULTIVERSION
float dot_f32(const float* a, const float* b, int64_t n) {
  v16f acc = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) acc += load_f32(a + i) * load_f32(b + i);
  float s = hsum(acc);
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

void matmul_rows(const float* x, int64_t T, int64_t K, const void* w, DType dtype, int64_t n0,
                 int64_t n1, const float* bias, float* y, int64_t ldy) {
  switch (dtype) {
    case DType::kF32:
      matmul_f32(x, T, K, static_cast<const float*>(w), n0, n1, bias, y, ldy);
      return;
    case DType::kBF16:
      matmul_bf16(x, T, K, static_cast<const uint16_t*>(w), n0, n1, bias, y, ldy);
      return;
    default: {
      // f16 (and anything else): widen 4 rows at a time, then use the f32 kernel.
      std::vector<float> rows(4 * K);
      const size_t es = dtype_size(dtype);
      for (int64_t n = n0; n < n1; n += 4) {
        int64_t nw = std::min<int64_t>(4, n1 - n);
        to_f32(static_cast<const uint8_t*>(w) + n * K * es, dtype, nw * K, rows.data());
        matmul_f32(x, T, K, rows.data(), 0, nw, bias ? bias + n : nullptr, y + n, ldy);
      }
    }
  }
}

}  // namespace dlx::cpu
