#include "engine/formats/kquant.h"

#include <cstring>

#include "engine/formats/dtype.h"

namespace dlx {
namespace {

uint16_t le16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | p[1] << 8);
}

// Sub-block j's 6-bit scale and min of a Q4_K block: j < 4 in the low 6 bits of bytes j and
// j + 4; j >= 4 in a nibble of byte j + 4 plus the top 2 bits of bytes j - 4 and j.
void scale_min(int j, const uint8_t* s, int* sc, int* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

}  // namespace

void dequantize_row_q4_k(const uint8_t* src, int64_t n, float* dst) {
  for (int64_t b = 0; b < n / kKQuantBlock; ++b) {
    const uint8_t* blk = src + b * kQ4KBytes;
    const float d = f16_to_f32(le16(blk)), dmin = f16_to_f32(le16(blk + 2));
    const uint8_t* scales = blk + 4;
    const uint8_t* q = blk + 16;
    float* y = dst + b * kKQuantBlock;
    for (int c = 0; c < 4; ++c) {  // 64 values: sub-blocks 2c (low nibbles) and 2c+1 (high)
      int sc, m;
      scale_min(2 * c, scales, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
      scale_min(2 * c + 1, scales, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) y[l] = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) y[32 + l] = d2 * static_cast<float>(q[l] >> 4) - m2;
      q += 32;
      y += 64;
    }
  }
}

void dequantize_row_q6_k(const uint8_t* src, int64_t n, float* dst) {
  for (int64_t b = 0; b < n / kKQuantBlock; ++b) {
    const uint8_t* blk = src + b * kQ6KBytes;
    const uint8_t* ql = blk;
    const uint8_t* qh = blk + 128;
    const auto* sc = reinterpret_cast<const int8_t*>(blk + 192);
    const float d = f16_to_f32(le16(blk + 208));
    float* y = dst + b * kKQuantBlock;
    // (d * scale) * q in f32, as llama.cpp rounds it.
    for (int half = 0; half < 2; ++half) {  // 128 values: 64 bytes of ql, 32 of qh, 8 scales
      for (int l = 0; l < 32; ++l) {
        const int g = l / 16;
        const int q1 = ((ql[l] & 0xF) | ((qh[l] >> 0 & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | ((qh[l] >> 2 & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | ((qh[l] >> 4 & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6 & 3) << 4)) - 32;
        y[l] = d * static_cast<float>(sc[g]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[g + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[g + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[g + 6]) * static_cast<float>(q4);
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

}  // namespace dlx
