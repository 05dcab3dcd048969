// bf16 / f16 <-> f32 conversions against references computed in double: exhaustive round trips
// over every 16-bit pattern, round-to-nearest-even on ties, subnormals, overflow, inf and NaN.
#include "engine/formats/dtype.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace dlx {
namespace {

float bits_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// The exact value of an f16 bit pattern, from the IEEE definition.
double f16_value(uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  double v;
  if (exp == 0) {
    v = std::ldexp(man, -24);
  } else if (exp == 31) {
    v = man ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  } else {
    v = std::ldexp(1024 + man, exp - 25);
  }
  return sign ? -v : v;
}

// Nearest of two candidates by value, ties to the one whose last mantissa bit is 0.
template <typename Bits>
Bits nearest_even(double x, Bits lo, double lo_v, Bits hi, double hi_v) {
  const double dl = std::fabs(x - lo_v), dh = std::fabs(hi_v - x);
  if (dl < dh) return lo;
  if (dh < dl) return hi;
  return (lo & 1) == 0 ? lo : hi;
}

// Reference f32 -> bf16 (finite or inf input): pick between truncation and the next pattern.
uint16_t bf16_ref(float f) {
  const uint32_t u = f32_bits(f);
  const uint16_t lo = static_cast<uint16_t>(u >> 16);
  if ((u & 0xffff) == 0) return lo;
  const uint16_t hi = lo + 1;  // next magnitude (the carry into the exponent is right, up to inf)
  const double x = std::fabs(static_cast<double>(f));
  const double lo_v = std::fabs(static_cast<double>(bf16_to_f32(lo)));
  const double hi_v = (hi & 0x7fff) == 0x7f80 ? std::ldexp(1.0, 128)  // inf stands at 2^128
                                              : std::fabs(static_cast<double>(bf16_to_f32(hi)));
  return nearest_even<uint16_t>(x, lo, lo_v, hi, hi_v);
}

// Reference f32 -> f16 by search over all positive finite f16 values (+ 65536 for inf).
uint16_t f16_ref(float f) {
  static const std::vector<double> values = [] {
    std::vector<double> v;
    for (uint32_t h = 0; h < 0x7c00; ++h) v.push_back(f16_value(static_cast<uint16_t>(h)));
    v.push_back(65536.0);  // where inf sits for rounding purposes
    return v;
  }();
  const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  const double x = std::fabs(static_cast<double>(f));
  if (std::isinf(f) || x >= 65536.0) return sign | 0x7c00;
  auto it = std::lower_bound(values.begin(), values.end(), x);
  const uint16_t hi = static_cast<uint16_t>(it - values.begin());
  if (*it == x || hi == 0) return sign | hi;
  const uint16_t lo = hi - 1;
  return sign | nearest_even<uint16_t>(x, lo, values[lo], hi, values[hi]);
}

TEST(Bf16, EveryPatternRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = bf16_to_f32(static_cast<uint16_t>(h));
    EXPECT_EQ(f32_bits(f), h << 16);  // widening is exact: the pattern shifted
    if (std::isnan(f)) {
      const uint16_t back = f32_to_bf16(f);
      EXPECT_TRUE(std::isnan(bf16_to_f32(back))) << h;
      EXPECT_EQ(back & 0x8000, h & 0x8000) << "sign of NaN " << h;
    } else {
      EXPECT_EQ(f32_to_bf16(f), h) << h;
    }
  }
}

TEST(Bf16, RoundsToNearestEven) {
  // 1 + 2^-8 lies halfway between 1 (even) and 1 + 2^-7 (odd): goes down.
  EXPECT_EQ(f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);
  // 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): goes up.
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);
  // Just above half rounds up, just below rounds down.
  EXPECT_EQ(f32_to_bf16(bits_f32(0x3f808001)), 0x3f81);
  EXPECT_EQ(f32_to_bf16(bits_f32(0x3f807fff)), 0x3f80);
  // Rounding carries into the exponent.
  EXPECT_EQ(f32_to_bf16(bits_f32(0x3fffffff)), 0x4000);
  // The largest float rounds to infinity (bf16 max is 0x7f7f).
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(f32_to_bf16(-std::numeric_limits<float>::max()), 0xff80);
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
  // Subnormals round like everything else.
  EXPECT_EQ(f32_to_bf16(bits_f32(0x00008000)), 0x0000);  // tie to even zero
  EXPECT_EQ(f32_to_bf16(bits_f32(0x00018000)), 0x0002);  // tie to even 2
  EXPECT_EQ(f32_to_bf16(bits_f32(0x00008001)), 0x0001);
}

TEST(Bf16, RandomFloatsMatchReference) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2'000'000; ++i) {
    const uint32_t u = rng();
    const float f = bits_f32(u);
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_bf16(f), bf16_ref(f)) << std::hex << u;
  }
}

TEST(F16, EveryPatternWidensExactlyAndRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint16_t p = static_cast<uint16_t>(h);
    const float f = f16_to_f32(p);
    const double want = f16_value(p);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(f)) << h;
      EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f)))) << h;
      EXPECT_EQ(f32_to_f16(f) & 0x8000, h & 0x8000) << "sign of NaN " << h;
      continue;
    }
    EXPECT_EQ(static_cast<double>(f), want) << h;
    EXPECT_EQ(std::signbit(f), (h & 0x8000) != 0) << h;
    EXPECT_EQ(f32_to_f16(f), p) << h;
  }
}

TEST(F16, RoundsToNearestEvenIncludingSubnormalsAndOverflow) {
  EXPECT_EQ(f32_to_f16(1.0f + 0x1p-11f), 0x3c00);      // tie, down to even
  EXPECT_EQ(f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);  // tie, up to even
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);             // largest finite
  EXPECT_EQ(f32_to_f16(65519.99f), 0x7bff);            // below the halfway point to 2^16
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);             // tie between max and 2^16: inf
  EXPECT_EQ(f32_to_f16(-1e9f), 0xfc00);
  EXPECT_EQ(f32_to_f16(0x1p-24f), 0x0001);             // smallest subnormal
  EXPECT_EQ(f32_to_f16(0x1p-25f), 0x0000);             // half of it: tie to even zero
  EXPECT_EQ(f32_to_f16(0x1.000002p-25f), 0x0001);      // just above half
  EXPECT_EQ(f32_to_f16(3 * 0x1p-25f), 0x0002);         // 1.5 x smallest: tie up to even 2
  EXPECT_EQ(f32_to_f16(0x1p-14f - 0x1p-25f), 0x0400);  // rounds up into the normals
  EXPECT_EQ(f32_to_f16(-0x1p-30f), 0x8000);            // underflow keeps the sign
}

TEST(F16, RandomFloatsMatchReference) {
  std::mt19937 rng(11);
  // Uniform bit patterns are mostly far outside f16's range; also draw exponents near it.
  std::uniform_int_distribution<uint32_t> exp_near(127 - 28, 127 + 17);
  for (int i = 0; i < 2'000'000; ++i) {
    uint32_t u = rng();
    if (i % 2) u = (u & 0x807fffffu) | exp_near(rng) << 23;
    const float f = bits_f32(u);
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), f16_ref(f)) << std::hex << u;
  }
}

TEST(DType, NamesAndSizes) {
  DType t;
  for (const char* s : {"F32", "F16", "BF16", "I32", "f32", "bf16"})
    EXPECT_TRUE(parse_dtype(s, &t));
  for (const char* s : {"F64", "F8_E4M3", "bf", "", "Bf16"}) EXPECT_FALSE(parse_dtype(s, &t)) << s;
  EXPECT_EQ(dtype_size(DType::kF32), 4u);
  EXPECT_EQ(dtype_size(DType::kBF16), 2u);
  EXPECT_EQ(dtype_size(DType::kF16), 2u);
  EXPECT_EQ(dtype_size(DType::kI32), 4u);
}

}  // namespace
}  // namespace dlx
