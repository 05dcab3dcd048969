// CPU kernels: the inner loops of the CPU backend. Each exists for AVX-512, AVX2 (x86-64-v3),
// AArch64 NEON and plain C++ (any CPU); the best one for this CPU is chosen at run time.
#pragma once

#include <cstdint>

#include "engine/backend/backend.h"
#include "engine/backend/cpu/cpu_features.h"
#include "engine/formats/dtype.h"
#include "engine/util/thread_pool.h"

namespace dlx::cpu {

// How matmul multiplies bf16 weights.
//   kF32 (default): every product in f32 from the exact weight values; results match a
//     float32 reference to rounding (what the golden tests check).
//   kBF16Dot: activations are rounded to bf16 and multiplied with vdpbf16ps (AVX512_BF16),
//     about twice as fast; logits move by ~1e-3 relative. Only bf16 weights on CPUs with
//     AVX512_BF16 use it; everything else keeps kF32.
//   kInt8: for Q8_0 / Q4_0 weights: activations quantized per row to int8 blocks of 32
//     (quantize_row_q8) times the weight blocks in integer dot products. Q8_0 / Q4_0 weights
//     in the other modes are dequantized tile by tile and multiplied in f32 (exact, slow).
enum class MatmulMode { kF32, kBF16Dot, kInt8 };

// Whether kBF16Dot multiplies bf16 weights in bf16 at `isa` (elsewhere it is the f32 path).
bool has_bf16_dot(Isa isa = best_isa());
// Whether kBF16Dot runs on AMX tiles (AMX-BF16 present, granted by Linux, DLX_CPU_AMX != 0).
bool has_amx_bf16();

// y[t, n] = sum_k x[t, k] * w[n, k] (+ bias[n]) for x [T, K] (row stride K), w [N, K] of
// `wtype`, y rows `ldy` apart. Q8_0 / Q4_0 weights in kInt8 mode: each activation moves by at
// most half its block's step (max|x| / 254) before the integer products, on top of the
// weights' own quantization error. Work is
// split over the pool's threads by output columns. `isa` (here and below) must be supported; a
// lower one than the best is for tests.
void matmul(const float* x, int64_t T, int64_t K, const void* w, DType wtype, int64_t N,
            const float* bias, float* y, int64_t ldy, MatmulMode mode, ThreadPool& pool,
            Isa isa = best_isa());

// Quantizes one activation row x[K] (K a multiple of 32) to int8 blocks of 32 for the
// quantized-weight matmul: block b has scale d[b] = max|x| / 127, values q[32b + j] =
// round(x / d[b]) and sum[b] = sum_j q[32b + j]. (Like Q8_0, but an f32 scale.)
void quantize_row_q8(const float* x, int64_t K, int8_t* q, float* d, int32_t* sum);

// out[Tq, H*hd] = softmax(q k^T * scale + mask) v, see Backend::attention. q/out rows are
// `ldq` / `ldo` floats apart, k/v rows `ldkv` apart.
void attention(const float* q, int64_t ldq, const float* k, const float* v, int64_t ldkv,
               float* out, int64_t ldo, int64_t Tq, const AttentionParams& p, ThreadPool& pool,
               Isa isa = best_isa());

// out[i] = silu(gate[i]) * up[i] (out may alias gate).
void swiglu(const float* gate, const float* up, float* out, int64_t n, ThreadPool& pool,
            Isa isa = best_isa());

// Converts n values of `dtype` at src to f32.
void to_f32(const void* src, DType dtype, int64_t n, float* dst);

float dot_f32(const float* a, const float* b, int64_t n);

// One row of logits, for the sampler (cpu_row_reduce.cpp). row_max: the largest of x[0, n)
// (-inf when n == 0; NaNs are ignored). row_find: the first index of `value`, -1 if none.
// row_sum_exp: sum of exp(double(x[i]) - shift) for a shift >= every x[i] (the row's max), in
// double; NaN when an x[i] is NaN.
float row_max(const float* x, int64_t n, Isa isa = best_isa());
int64_t row_find(const float* x, int64_t n, float value);
double row_sum_exp(const float* x, int64_t n, double shift, Isa isa = best_isa());

}  // namespace dlx::cpu
