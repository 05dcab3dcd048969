// CPU kernels: the inner loops of the CPU backend, compiled for several x86 instruction sets
// (function multi-versioning picks the best at load time) and plain C++ elsewhere.
#pragma once

#include <cstdint>

#include "engine/formats/dtype.h"

namespace dlx::cpu {

// y[t, n] = sum_k x[t, k] * w[n, k] for t in [0, T), n in [n0, n1). w rows of `dtype`.
// ldy = row stride of y. bias (may be null) is added.
void matmul_rows(const float* x, int64_t T, int64_t K, const void* w, DType dtype, int64_t n0,
                 int64_t n1, const float* bias, float* y, int64_t ldy);

// Converts n values of `dtype` at src to f32.
void to_f32(const void* src, DType dtype, int64_t n, float* dst);

float dot_f32(const float* a, const float* b, int64_t n);

}  // namespace dlx::cpu
