// Block quantization of weight rows in llama.cpp's Q8_0 and Q4_0 layouts (see DType): the
// reference quantizers (what `diffulex convert` writes; the same rounding as llama.cpp's
// reference code, so files match bit for bit) and dequantizers (embedding gathers, tests, the
// portable fallbacks).
#pragma once

#include <cstdint>

#include "engine/formats/dtype.h"

namespace dlx {

struct BlockQ8_0 {
  uint16_t d;    // f16 scale
  int8_t q[32];  // value j = d * q[j]
};
struct BlockQ4_0 {
  uint16_t d;       // f16 scale
  uint8_t qs[16];   // value j = d * ((qs[j] & 15) - 8), value 16 + j = d * ((qs[j] >> 4) - 8)
};
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18, "GGUF block layouts");

// Quantizes n values (a multiple of 32) to n / 32 blocks at dst.
//   Q8_0: d = max|x| / 127, q = round(x / d).
//   Q4_0: m = the value of largest magnitude (its sign kept), d = m / -8,
//         q = min(15, trunc(x / d + 8.5)).
void quantize_row(DType type, const float* src, int64_t n, void* dst);
// Widens n values (a multiple of 32 for quantized types) of any weight dtype at src to f32.
void dequantize_row(DType type, const void* src, int64_t n, float* dst);

}  // namespace dlx
