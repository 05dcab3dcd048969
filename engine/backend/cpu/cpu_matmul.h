// The matmul kernels of each instruction set, behind cpu::matmul's run-time dispatch
// (cpu_kernels.cpp). Internal to the CPU backend.
#pragma once

#include <algorithm>
#include <atomic>
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

// Runs fn(n0, n1) over output columns [0, N) in chunks of whole `align`-column tiles, about 16
// chunks per thread handed out one at a time: a thread that finishes early takes the next
// chunk, so no thread waits long at the end of a product (the pool's own split is coarser).
template <class F>
void parallel_columns(int64_t N, int64_t align, ThreadPool& pool, F&& fn) {
  const int64_t threads = pool.size();
  const int64_t per =
      std::max<int64_t>(4 * align, (N / (16 * threads) + align - 1) / align * align);
  const int64_t chunks = (N + per - 1) / per;
  std::atomic<int64_t> next{0};
  pool.parallel_for(std::min(threads, chunks), 1, [&](int64_t, int64_t) {
    for (int64_t i = next.fetch_add(1); i < chunks; i = next.fetch_add(1)) {
      fn(i * per, std::min(N, (i + 1) * per));
    }
  });
}

// Block-quantized weights (Q8_0, Q4_0; K a multiple of 32), activations quantized per row to
// int8 blocks (cpu_matmul_quant.cpp). Every kernel gives the same integer block dots.
// The NEON ones (cpu_matmul_quant_neon.inc): widening multiplies (ASIMD), SDOT, SMMLA.
enum class QuantKernel { kGeneric, kAvx2, kAvx512Vnni, kNeon, kNeonDot, kNeonI8mm };
void matmul_quant(const MatmulCall& c, ThreadPool& pool, QuantKernel kernel);
#if defined(__x86_64__) && defined(__GNUC__)
// quantize_row_q8, bit for bit, in AVX-512 (F, BW, VL; what the kAvx512Vnni kernel uses).
void quantize_row_q8_avx512(const float* x, int64_t K, int8_t* q, float* d, int32_t* sum);
#endif

// Plain C++ (any CPU; auto-vectorized). Every plain weight dtype.
void matmul_generic(const MatmulCall& c, ThreadPool& pool);

#if defined(__x86_64__) && defined(__GNUC__)
// AVX2 + FMA (x86-64-v3): f32 and bf16 weights; f16 too when `f16c`.
void matmul_avx2(const MatmulCall& c, ThreadPool& pool);
// AVX-512 F/BW/DQ/VL (x86-64-v4): f32, bf16, f16 weights, f32 products.
void matmul_avx512(const MatmulCall& c, ThreadPool& pool);
// AVX512_BF16: bf16 weights times bf16-rounded activations (MatmulMode::kBF16Dot).
void matmul_avx512_bf16dot(const MatmulCall& c, ThreadPool& pool);
// The same products with AMX tiles (cpu_matmul_amx.cpp); K % 32 == 0. Usable when the CPU has
// AMX-TILE + AMX-BF16, Linux granted the tile state and DLX_CPU_AMX is not 0 (checked once).
bool amx_bf16_usable();
void matmul_amx_bf16(const MatmulCall& c, ThreadPool& pool);
#endif

#if defined(__aarch64__)
// AArch64 NEON (cpu_matmul_neon.cpp): f32, f16 and bf16 weights widened in registers, f32
// products (MatmulMode::kBF16Dot keeps them too).
void matmul_neon(const MatmulCall& c, ThreadPool& pool);
#endif

}  // namespace dlx::cpu::detail
