// Test-side encoders of llama.cpp's Q4_K and Q6_K blocks (simple, not llama.cpp's optimizing
// quantizers): they pack chosen integers into the layouts engine/formats/kquant.h documents, so
// tests can build K-quant tensors and check the reader against the values they encode.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/formats/dtype.h"
#include "engine/formats/kquant.h"

namespace dlx::test {

inline void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v & 0xff);
  p[1] = static_cast<uint8_t>(v >> 8);
}

// n values (a multiple of 256) -> Q4_K blocks; `want` gets the values the blocks stand for,
// computed as the reader must: (d * sc) * q - (dmin * m) in f32.
inline std::vector<uint8_t> encode_q4_k(const float* x, int64_t n, std::vector<float>* want) {
  std::vector<uint8_t> out(static_cast<size_t>(n / kKQuantBlock) * kQ4KBytes);
  want->assign(static_cast<size_t>(n), 0.0f);
  for (int64_t b = 0; b < n / kKQuantBlock; ++b) {
    const float* xb = x + b * kKQuantBlock;
    float scale[8], minv[8];
    for (int g = 0; g < 8; ++g) {
      const float lo = std::min(0.0f, *std::min_element(xb + 32 * g, xb + 32 * g + 32));
      const float hi = *std::max_element(xb + 32 * g, xb + 32 * g + 32);
      scale[g] = (hi - lo) / 15.0f;
      minv[g] = -lo;
    }
    const float d = f16_to_f32(f32_to_f16(*std::max_element(scale, scale + 8) / 63.0f));
    const float dmin = f16_to_f32(f32_to_f16(*std::max_element(minv, minv + 8) / 63.0f));
    int sc[8], m[8];
    for (int g = 0; g < 8; ++g) {
      sc[g] = d > 0 ? std::clamp(static_cast<int>(std::lround(scale[g] / d)), 0, 63) : 0;
      m[g] = dmin > 0 ? std::clamp(static_cast<int>(std::lround(minv[g] / dmin)), 0, 63) : 0;
    }
    uint8_t* blk = out.data() + b * kQ4KBytes;
    put16(blk, f32_to_f16(d));
    put16(blk + 2, f32_to_f16(dmin));
    uint8_t* s = blk + 4;
    for (int j = 0; j < 4; ++j) {
      s[j] = static_cast<uint8_t>(sc[j] | (sc[j + 4] >> 4) << 6);
      s[j + 4] = static_cast<uint8_t>(m[j] | (m[j + 4] >> 4) << 6);
      s[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | (m[j + 4] & 0xF) << 4);
    }
    uint8_t* qs = blk + 16;
    for (int g = 0; g < 8; ++g) {
      const float dg = d * static_cast<float>(sc[g]), mg = dmin * static_cast<float>(m[g]);
      for (int l = 0; l < 32; ++l) {
        const int v = 32 * g + l;
        const int q =
            dg > 0 ? std::clamp(static_cast<int>(std::lround((xb[v] + mg) / dg)), 0, 15) : 0;
        uint8_t& byte = qs[32 * (g / 2) + l];
        byte = static_cast<uint8_t>(g % 2 == 0 ? (byte & 0xF0) | q : (byte & 0x0F) | q << 4);
        (*want)[static_cast<size_t>(b * kKQuantBlock + v)] = dg * static_cast<float>(q) - mg;
      }
    }
  }
  return out;
}

// n values (a multiple of 256) -> Q6_K blocks; `want` as above: (d * scale) * (q - 32).
inline std::vector<uint8_t> encode_q6_k(const float* x, int64_t n, std::vector<float>* want) {
  std::vector<uint8_t> out(static_cast<size_t>(n / kKQuantBlock) * kQ6KBytes);
  want->assign(static_cast<size_t>(n), 0.0f);
  for (int64_t b = 0; b < n / kKQuantBlock; ++b) {
    const float* xb = x + b * kKQuantBlock;
    float gs[16];
    for (int g = 0; g < 16; ++g) {
      float amax = 0;
      for (int l = 0; l < 16; ++l) amax = std::max(amax, std::fabs(xb[16 * g + l]));
      gs[g] = amax / 31.0f;
    }
    const float d = f16_to_f32(f32_to_f16(*std::max_element(gs, gs + 16) / 127.0f));
    uint8_t* blk = out.data() + b * kQ6KBytes;
    auto* sc = reinterpret_cast<int8_t*>(blk + 192);
    int q[256];
    for (int g = 0; g < 16; ++g) {
      sc[g] = static_cast<int8_t>(
          d > 0 ? std::clamp(static_cast<int>(std::lround(gs[g] / d)), 0, 127) : 0);
      const float dg = d * static_cast<float>(sc[g]);
      for (int l = 0; l < 16; ++l) {
        const int v = 16 * g + l;
        q[v] = dg > 0 ? std::clamp(static_cast<int>(std::lround(xb[v] / dg)), -32, 31) + 32 : 32;
        (*want)[static_cast<size_t>(b * kKQuantBlock + v)] = dg * static_cast<float>(q[v] - 32);
      }
    }
    put16(blk + 208, f32_to_f16(d));
    for (int half = 0; half < 2; ++half) {
      uint8_t* ql = blk + 64 * half;
      uint8_t* qh = blk + 128 + 32 * half;
      const int* h = q + 128 * half;
      for (int l = 0; l < 32; ++l) {
        ql[l] = static_cast<uint8_t>((h[l] & 0xF) | (h[l + 64] & 0xF) << 4);
        ql[l + 32] = static_cast<uint8_t>((h[l + 32] & 0xF) | (h[l + 96] & 0xF) << 4);
        qh[l] = static_cast<uint8_t>((h[l] >> 4) | (h[l + 32] >> 4) << 2 | (h[l + 64] >> 4) << 4 |
                                     (h[l + 96] >> 4) << 6);
      }
    }
  }
  return out;
}

}  // namespace dlx::test
