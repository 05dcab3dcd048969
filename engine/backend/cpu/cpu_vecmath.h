// Width-generic SIMD helpers for the CPU kernels, on the compiler's vector extensions: a
// kernel written once against Vec<W> becomes AVX-512 (W = 16), AVX2 (W = 8) or SSE / NEON
// (W = 4) code when inlined into a function compiled for that instruction set.
#pragma once

#include <cstdint>
#include <cstring>

namespace dlx::cpu::simd {

// One specialization per width: GCC drops vector_size on an alias with a dependent size.
template <int W>
struct VecTypes;
template <>
struct VecTypes<4> {
  using f = float __attribute__((vector_size(16)));
  using i = int32_t __attribute__((vector_size(16)));
};
template <>
struct VecTypes<8> {
  using f = float __attribute__((vector_size(32)));
  using i = int32_t __attribute__((vector_size(32)));
};
template <>
struct VecTypes<16> {
  using f = float __attribute__((vector_size(64)));
  using i = int32_t __attribute__((vector_size(64)));
};
template <int W>
using Vec = typename VecTypes<W>::f;
template <int W>
using VecI = typename VecTypes<W>::i;

#define DLX_SIMD_INLINE __attribute__((always_inline)) inline

template <int W>
DLX_SIMD_INLINE Vec<W> load(const float* p) {
  Vec<W> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <int W>
DLX_SIMD_INLINE void store(float* p, Vec<W> v) {
  std::memcpy(p, &v, sizeof v);
}

// All lanes s. Inside loops prefer `s * v` (GCC broadcasts a scalar operand in one
// instruction); a vector built lane by lane can become a chain of masked inserts.
template <int W>
DLX_SIMD_INLINE Vec<W> splat(float s) {
  return Vec<W>{} + s;
}

template <int W>
DLX_SIMD_INLINE float hsum(Vec<W> v) {
  float s = 0;
  for (int i = 0; i < W; ++i) s += v[i];
  return s;
}

template <int W>
DLX_SIMD_INLINE float hmax(Vec<W> v) {
  float m = v[0];
  for (int i = 1; i < W; ++i) m = m > v[i] ? m : v[i];
  return m;
}

// e^x to ~1 ulp (Cephes expf: x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial, 2^n through
// the exponent bits). Inputs are clamped to [-87.3, 88.4], where e^x is a normal float.
template <int W>
DLX_SIMD_INLINE Vec<W> exp(Vec<W> x) {
  const Vec<W> lo = splat<W>(-87.3365447f), hi = splat<W>(88.3762626f);
  x = x < lo ? lo : x;
  x = x > hi ? hi : x;
  const Vec<W> magic = splat<W>(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  const Vec<W> n = (x * splat<W>(1.44269504088896341f) + magic) - magic;
  Vec<W> r = x - n * splat<W>(0.693359375f);
  r = r - n * splat<W>(-2.12194440e-4f);
  Vec<W> y = splat<W>(1.9875691500e-4f);
  y = y * r + splat<W>(1.3981999507e-3f);
  y = y * r + splat<W>(8.3334519073e-3f);
  y = y * r + splat<W>(4.1665795894e-2f);
  y = y * r + splat<W>(1.6666665459e-1f);
  y = y * r + splat<W>(5.0000001201e-1f);
  y = y * (r * r) + r + splat<W>(1.0f);
  const VecI<W> e = (__builtin_convertvector(n, VecI<W>) + 127) << 23;
  return y * (Vec<W>)e;  // a vector cast reinterprets the bits
}

}  // namespace dlx::cpu::simd
