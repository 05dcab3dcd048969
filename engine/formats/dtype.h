// DType: element types of weights and activations, and scalar conversions between them.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace dlx {

// Plain element types, and block-quantized weight types with llama.cpp's (GGUF's) layouts:
// a row of K values is K / 32 blocks of 32 consecutive values, each block
//   Q8_0: {f16 d; int8 q[32]}   34 bytes, value j = d * q[j]
//   Q4_0: {f16 d; uint8 qs[16]} 18 bytes, value j = d * ((qs[j] & 15) - 8) for j < 16,
//                                          d * ((qs[j - 16] >> 4) - 8) for j >= 16
// (engine/formats/quant.h quantizes and dequantizes them).
enum class DType : uint8_t { kF32, kF16, kBF16, kI32, kQ8_0, kQ4_0 };

// Bytes per element of a plain type; 0 for block-quantized types (use dtype_row_bytes).
size_t dtype_size(DType t);
bool dtype_is_quantized(DType t);
int64_t dtype_block_values(DType t);  // values per block: 32 for Q8_0 / Q4_0, 1 otherwise
size_t dtype_block_bytes(DType t);    // bytes per block (= dtype_size for plain types)
// Bytes of one row of `cols` values; 0 when cols is not a whole number of blocks.
size_t dtype_row_bytes(DType t, int64_t cols);
const char* dtype_name(DType t);  // "f32", "f16", "bf16", "i32", "q8_0", "q4_0"
// Parses our names and safetensors names ("F32", "BF16", ...). Returns false when unknown.
bool parse_dtype(const std::string& s, DType* out);

inline float bf16_to_f32(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Round to nearest even, as torch's .to(torch.bfloat16); NaN stays NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

}  // namespace dlx
