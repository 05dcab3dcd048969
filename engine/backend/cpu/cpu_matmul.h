// The matmul kernels of each instruction set, behind cpu::matmul's run-time dispatch
// (cpu_kernels.cpp). Internal to the CPU backend.
#pragma once

#include <cstdint>

#include "engine/backend/cpu/cpu_kernels.h"

namespace dlx::cpu::detail {

// One y[T, N] = x[T, K] @ w[N, K]^T (+ bias) call.
struct MatmulCall {
  const float* x;
  int64_t T, K;
  const void* w;
  DType wtype;
  int64_t N;
  const float* bias;  // [N] or null
  float* y;
  int64_t ldy;
};

// Activation rows kept in cache while weight tiles stream past them: a chunk of x takes about
// this many bytes (the L2 of current cores is 1-2 MB; weights need room too).
inline constexpr int64_t kXChunkBytes = 512 * 1024;

// Plain C++ (any CPU; auto-vectorized). Every weight dtype.
void matmul_generic(const MatmulCall& c, ThreadPool& pool);

#if defined(__x86_64__) && defined(__GNUC__)
// AVX2 + FMA (x86-64-v3): f32 and bf16 weights; f16 too when `f16c`.
void matmul_avx2(const MatmulCall& c, ThreadPool& pool);
// AVX-512 F/BW/DQ/VL (x86-64-v4): f32, bf16, f16 weights, f32 products.
void matmul_avx512(const MatmulCall& c, ThreadPool& pool);
// AVX512_BF16: bf16 weights times bf16-rounded activations (MatmulMode::kBF16Dot).
void matmul_avx512_bf16dot(const MatmulCall& c, ThreadPool& pool);
#endif

}  // namespace dlx::cpu::detail
