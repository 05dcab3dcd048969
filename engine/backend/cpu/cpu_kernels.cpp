// Run-time dispatch of the CPU kernels, and the small conversions they share.
#include "engine/backend/cpu/cpu_kernels.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/backend/cpu/cpu_features.h"
#include "engine/backend/cpu/cpu_matmul.h"
#include "engine/formats/quant.h"
#include "engine/util/error.h"

namespace dlx::cpu {

void matmul(const float* x, int64_t T, int64_t K, const void* w, DType wtype, int64_t N,
            const float* bias, float* y, int64_t ldy, MatmulMode mode, ThreadPool& pool, Isa isa) {
  if (T <= 0 || N <= 0) return;
  const detail::MatmulCall c{x, T, K, w, wtype, N, bias, y, ldy};
  if (dtype_is_quantized(wtype)) {
    if (K % 32 != 0) {
      throw Error(ErrorCode::kInvalidModel,
                  std::string(dtype_name(wtype)) +
                      " weights need rows of whole 32-value blocks, not " + std::to_string(K),
                  "cols");
    }
    detail::QuantKernel kernel = detail::QuantKernel::kGeneric;
#if defined(__x86_64__) && defined(__GNUC__)
    const CpuFeatures& qf = cpu_features();
    if (isa == Isa::kAvx512 && qf.avx512_vnni) {
      kernel = detail::QuantKernel::kAvx512Vnni;
    } else if (isa == Isa::kAvx512 || isa == Isa::kAvx2) {
      kernel = detail::QuantKernel::kAvx2;
    }
#elif defined(__aarch64__)
    if (isa == Isa::kNeonI8mm) kernel = detail::QuantKernel::kNeonI8mm;
    if (isa == Isa::kNeonDot) kernel = detail::QuantKernel::kNeonDot;
    if (isa == Isa::kNeon) kernel = detail::QuantKernel::kNeon;
#endif
    // Exact products of quantized weights: the portable kernel widens each weight tile.
    if (mode != MatmulMode::kInt8) return detail::matmul_generic(c, pool);
    return detail::matmul_quant(c, pool, kernel);
  }
#if defined(__x86_64__) && defined(__GNUC__)
  const CpuFeatures& f = cpu_features();
  if (isa == Isa::kAvx512) {
    if (mode == MatmulMode::kBF16Dot && wtype == DType::kBF16 && f.avx512_bf16) {
      if (K % 32 == 0 && detail::amx_bf16_usable()) return detail::matmul_amx_bf16(c, pool);
      return detail::matmul_avx512_bf16dot(c, pool);
    }
    return detail::matmul_avx512(c, pool);
  }
  if (isa == Isa::kAvx2 && (wtype != DType::kF16 || f.f16c)) return detail::matmul_avx2(c, pool);
#elif defined(__aarch64__)
  (void)mode;  // no BFDOT kernel yet: kBF16Dot keeps f32 products on ARM
  if (isa == Isa::kNeon || isa == Isa::kNeonDot || isa == Isa::kNeonI8mm) {
    return detail::matmul_neon(c, pool);
  }
#else
  (void)mode;
  (void)isa;
#endif
  detail::matmul_generic(c, pool);
}

bool has_bf16_dot(Isa isa) {
#if defined(__x86_64__) && defined(__GNUC__)
  return isa == Isa::kAvx512 && cpu_features().avx512_bf16;
#else
  (void)isa;
  return false;
#endif
}

bool has_amx_bf16() {
#if defined(__x86_64__) && defined(__GNUC__)
  return has_bf16_dot() && detail::amx_bf16_usable();
#else
  return false;
#endif
}

void to_f32(const void* src, DType dtype, int64_t n, float* dst) {
  dequantize_row(dtype, src, n, dst);
}

float dot_f32(const float* a, const float* b, int64_t n) {
  // Four partial sums: vectorizes, and rounds no worse than one running sum.
  float s[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (int l = 0; l < 4; ++l) s[l] += a[i + l] * b[i + l];
  }
  float t = (s[0] + s[1]) + (s[2] + s[3]);
  for (; i < n; ++i) t += a[i] * b[i];
  return t;
}

}  // namespace dlx::cpu
