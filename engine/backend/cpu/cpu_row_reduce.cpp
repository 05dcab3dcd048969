// Reductions over one row of logits for the sampler (engine/decode/sampler.cpp): the largest
// value over index ranges, the first index of a value, and sum(exp(x - shift)) in double.
// AVX-512 versions with the plain C++ ones as the reference and fallback. The exp is a double
// one (Taylor series of degree 13 after range reduction: within 2 ulp of std::exp), so the
// sampler's confidences keep the double precision its tests state.
#include <cmath>
#include <limits>

#include "engine/backend/cpu/cpu_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#define DLX_ROW_X86 1
#define DLX_ROW_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,fma")))
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace dlx::cpu {
namespace {

float max_generic(const float* x, int64_t n) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) m = std::max(m, x[i]);  // NaN never wins (comparison false)
  return m;
}

double sum_exp_generic(const float* x, int64_t n, double shift) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(x[i]) - shift);
  return s;
}

#ifdef DLX_ROW_X86
DLX_ROW_AVX512 float max_avx512(const float* x, int64_t n) {
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 m0 = ninf, m1 = ninf;
  int64_t i = 0;
  // vmaxps returns its second operand when either is NaN: (x, m) keeps m, as the scalar does.
  for (; i + 32 <= n; i += 32) {
    m0 = _mm512_max_ps(_mm512_loadu_ps(x + i), m0);
    m1 = _mm512_max_ps(_mm512_loadu_ps(x + i + 16), m1);
  }
  for (; i < n; i += 16) {
    const __mmask16 k = n - i >= 16 ? 0xffff : static_cast<__mmask16>((1u << (n - i)) - 1);
    m0 = _mm512_max_ps(_mm512_mask_loadu_ps(ninf, k, x + i), m0);
  }
  return _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
}

// e^x for x <= 0 in double: x = k ln2 + r with |r| <= ln2 / 2, e^r by its Taylor series to
// r^13 (remainder < 4e-18), times 2^k through the exponent bits. x < -708 gives 0 (e^x is
// then below the smallest normal double, and these terms are added to a sum >= 1).
DLX_ROW_AVX512 __m512d exp_neg_pd(__m512d x) {
  const __m512d ln2_hi = _mm512_set1_pd(0.693147180369123816490);
  const __m512d ln2_lo = _mm512_set1_pd(1.90821492927058770002e-10);
  const __mmask8 tiny = _mm512_cmp_pd_mask(x, _mm512_set1_pd(-708.0), _CMP_LT_OQ);
  // vmaxpd returns its second operand when either is NaN: a NaN x stays NaN (so does the sum,
  // as with std::exp).
  x = _mm512_max_pd(_mm512_set1_pd(-708.0), x);
  const __m512d k = _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(1.4426950408889634)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512d r = _mm512_fnmadd_pd(k, ln2_hi, x);
  r = _mm512_fnmadd_pd(k, ln2_lo, r);
  // Horner over 1/13! .. 1/1!, 1.
  static constexpr double c[14] = {1.0 / 6227020800.0,
                                   1.0 / 479001600.0,
                                   1.0 / 39916800.0,
                                   1.0 / 3628800.0,
                                   1.0 / 362880.0,
                                   1.0 / 40320.0,
                                   1.0 / 5040.0,
                                   1.0 / 720.0,
                                   1.0 / 120.0,
                                   1.0 / 24.0,
                                   1.0 / 6.0,
                                   0.5,
                                   1.0,
                                   1.0};
  __m512d p = _mm512_set1_pd(c[0]);
#pragma GCC unroll 13
  for (int i = 1; i < 14; ++i) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(c[i]));
  const __m512i e =
      _mm512_slli_epi64(_mm512_add_epi64(_mm512_cvtpd_epi64(k), _mm512_set1_epi64(1023)), 52);
  p = _mm512_mul_pd(p, _mm512_castsi512_pd(e));
  return _mm512_mask_blend_pd(tiny, p, _mm512_setzero_pd());
}

DLX_ROW_AVX512 double sum_exp_avx512(const float* x, int64_t n, double shift) {
  const __m512d sh = _mm512_set1_pd(shift);
  __m512d s0 = _mm512_setzero_pd(), s1 = s0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    s0 = _mm512_add_pd(s0,
                       exp_neg_pd(_mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), sh)));
    s1 = _mm512_add_pd(
        s1, exp_neg_pd(_mm512_sub_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)), sh)));
  }
  double s = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
  for (; i < n; ++i) s += std::exp(static_cast<double>(x[i]) - shift);
  return s;
}
#endif

}  // namespace

float row_max(const float* x, int64_t n, Isa isa) {
  if (n <= 0) return -std::numeric_limits<float>::infinity();
#ifdef DLX_ROW_X86
  if (isa == Isa::kAvx512) return max_avx512(x, n);
#endif
  (void)isa;
  return max_generic(x, n);
}

int64_t row_find(const float* x, int64_t n, float value) {
  for (int64_t i = 0; i < n; ++i) {
    if (x[i] == value) return i;
  }
  return -1;
}

double row_sum_exp(const float* x, int64_t n, double shift, Isa isa) {
#ifdef DLX_ROW_X86
  // Only for x - shift <= 0 (the range exp_neg_pd covers): the sampler's shift is the max.
  if (isa == Isa::kAvx512) return sum_exp_avx512(x, n, shift);
#endif
  (void)isa;
  return sum_exp_generic(x, n, shift);
}

}  // namespace dlx::cpu
