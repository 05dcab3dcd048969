#include "engine/formats/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/util/error.h"

namespace dlx {
namespace {

void quantize_q8_0(const float* x, BlockQ8_0& b) {
  float amax = 0;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  b.d = f32_to_f16(d);
  for (int j = 0; j < 32; ++j) b.q[j] = static_cast<int8_t>(std::lround(x[j] * id));
}

void quantize_q4_0(const float* x, BlockQ4_0& b) {
  float amax = 0, max = 0;
  for (int j = 0; j < 32; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  const float d = max / -8.0f;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  b.d = f32_to_f16(d);
  for (int j = 0; j < 16; ++j) {
    // x / d lies in [-8, 8] (d carries the sign of the largest value), so x / d + 8.5 is
    // positive and the conversion truncates it: round to nearest, 16 clamped to 15.
    const int lo = std::min(15, static_cast<int>(static_cast<int8_t>(x[j] * id + 8.5f)));
    const int hi = std::min(15, static_cast<int>(static_cast<int8_t>(x[16 + j] * id + 8.5f)));
    b.qs[j] = static_cast<uint8_t>(lo | (hi << 4));
  }
}

void check_blocks(DType type, int64_t n) {
  if (n % 32 != 0) {
    throw Error(ErrorCode::kInvalidArgument, std::string(dtype_name(type)) + ": a row of " +
                                                 std::to_string(n) +
                                                 " values is not a whole number of 32-value blocks");
  }
}

}  // namespace

void quantize_row(DType type, const float* src, int64_t n, void* dst) {
  switch (type) {
    case DType::kQ8_0: {
      check_blocks(type, n);
      auto* b = static_cast<BlockQ8_0*>(dst);
      for (int64_t i = 0; i < n / 32; ++i) quantize_q8_0(src + 32 * i, b[i]);
      return;
    }
    case DType::kQ4_0: {
      check_blocks(type, n);
      auto* b = static_cast<BlockQ4_0*>(dst);
      for (int64_t i = 0; i < n / 32; ++i) quantize_q4_0(src + 32 * i, b[i]);
      return;
    }
    case DType::kF32:
      std::memcpy(dst, src, sizeof(float) * n);
      return;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) static_cast<uint16_t*>(dst)[i] = f32_to_f16(src[i]);
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) static_cast<uint16_t*>(dst)[i] = f32_to_bf16(src[i]);
      return;
    case DType::kI32:
      break;
  }
  throw Error(ErrorCode::kInvalidArgument, "quantize_row: i32 is not a weight type");
}

void dequantize_row(DType type, const void* src, int64_t n, float* dst) {
  switch (type) {
    case DType::kQ8_0: {
      check_blocks(type, n);
      const auto* b = static_cast<const BlockQ8_0*>(src);
      for (int64_t i = 0; i < n / 32; ++i) {
        const float d = f16_to_f32(b[i].d);
        for (int j = 0; j < 32; ++j) dst[32 * i + j] = d * static_cast<float>(b[i].q[j]);
      }
      return;
    }
    case DType::kQ4_0: {
      check_blocks(type, n);
      const auto* b = static_cast<const BlockQ4_0*>(src);
      for (int64_t i = 0; i < n / 32; ++i) {
        const float d = f16_to_f32(b[i].d);
        for (int j = 0; j < 16; ++j) {
          dst[32 * i + j] = d * static_cast<float>((b[i].qs[j] & 15) - 8);
          dst[32 * i + 16 + j] = d * static_cast<float>((b[i].qs[j] >> 4) - 8);
        }
      }
      return;
    }
    case DType::kF32:
      std::memcpy(dst, src, sizeof(float) * n);
      return;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(static_cast<const uint16_t*>(src)[i]);
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(static_cast<const uint16_t*>(src)[i]);
      return;
    case DType::kI32:
      for (int64_t i = 0; i < n; ++i)
        dst[i] = static_cast<float>(static_cast<const int32_t*>(src)[i]);
      return;
  }
}

}  // namespace dlx
