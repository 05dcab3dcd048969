// Step schedules: LLaDA's uniform split and Dream's float32 timestep rule.
#include <gtest/gtest.h>

#include <cstring>

#include "engine/decode/schedule.h"

namespace dlx {
namespace {

TEST(UniformSchedule, SplitsWithRemainderFirst) {
  EXPECT_EQ(uniform_schedule(8, 3), (std::vector<int>{3, 3, 2}));
  EXPECT_EQ(uniform_schedule(4, 4), (std::vector<int>{1, 1, 1, 1}));
  EXPECT_EQ(uniform_schedule(4, 8), (std::vector<int>{1, 1, 1, 1, 0, 0, 0, 0}));
  EXPECT_EQ(uniform_schedule(32, 1), (std::vector<int>{32}));
}

TEST(Linspace, EndpointsExactAndMonotonic) {
  for (int n : {2, 9, 17, 33, 129, 513}) {
    auto t = linspace_f32(1.0f, 1e-3f, n);
    ASSERT_EQ(t.size(), size_t(n));
    EXPECT_EQ(t.front(), 1.0f);
    EXPECT_EQ(t.back(), 1e-3f);
    for (int i = 1; i < n; ++i) EXPECT_LT(t[i], t[i - 1]) << n << " " << i;
  }
}

TEST(Linspace, VectorChunksUseTheirOwnBase) {
  // Lanes of a chunk are base + step * lane, so element 9 of a 33-point linspace is
  // (start + 8 step) + step, not start + 9 step: the rounding PyTorch's kernel produces.
  const int n = 33;
  auto t = linspace_f32(1.0f, 1e-3f, n, 8);
  const float step = (1e-3f - 1.0f) / 32.0f;
  const float base = 1.0f + step * 8.0f;
  EXPECT_EQ(t[9], base + step * 1.0f);
  EXPECT_EQ(t[32], 1e-3f);
  auto s = linspace_f32(1.0f, 1e-3f, 9, 8);  // too short for vectors: element by element
  EXPECT_EQ(s[3], 1.0f + ((1e-3f - 1.0f) / 8.0f) * 3.0f);
}

TEST(TimestepCount, ReproducesDreamSchedules) {
  // The official traces: 32 masks in 32 steps commit 0 first and 2 last; 16 steps commit
  // 1, 2 x 14, 3; 8 steps 3, 4 x 6, 5.
  auto run = [](int masks, int steps) {
    auto ts = linspace_f32(1.0f, 1e-3f, steps + 1);
    std::vector<int> out;
    for (int i = 0; i < steps; ++i) {
      int k = timestep_count(ts, i, steps, masks);
      out.push_back(k);
      masks -= k;
    }
    return out;
  };
  auto s32 = run(32, 32);
  EXPECT_EQ(s32.front(), 0);
  EXPECT_EQ(s32.back(), 2);
  auto s16 = run(32, 16);
  EXPECT_EQ(s16, (std::vector<int>{1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3}));
  EXPECT_EQ(run(32, 8), (std::vector<int>{3, 4, 4, 4, 4, 4, 4, 5}));
}

}  // namespace
}  // namespace dlx
