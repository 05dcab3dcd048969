// Reading llama.cpp's K-quant blocks (Q4_K, Q6_K: super-blocks of 256 values with 6- or 8-bit
// sub-block scales), the types most GGUF files on the hub use (Q4_K_M mixes both). There are
// no kernels for them: a GGUF tensor in these types is dequantized and requantized to Q8_0 once
// at load (engine/model/gguf_model.cpp), so it stays quantized in memory (8.5 bits per weight).
//
//   Q4_K (144 bytes): f16 d, f16 dmin, u8 scales[12] (8 six-bit scales and 8 six-bit mins),
//        u8 qs[128]; sub-block g of 32 values: value = d * sc_g * q - dmin * m_g, q in 0..15;
//        each 64 values take 32 bytes of qs: the low nibbles first, then the high ones.
//   Q6_K (210 bytes): u8 ql[128] (low 4 bits), u8 qh[64] (high 2 bits), i8 scales[16], f16 d;
//        group g of 16 values: value = d * scales[g] * (q - 32), q in 0..63.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dlx {

inline constexpr int64_t kKQuantBlock = 256;  // values per super-block
inline constexpr size_t kQ4KBytes = 144, kQ6KBytes = 210;

// Widens n values (a multiple of 256) at src to f32.
void dequantize_row_q4_k(const uint8_t* src, int64_t n, float* dst);
void dequantize_row_q6_k(const uint8_t* src, int64_t n, float* dst);

}  // namespace dlx
