// ThreadPool::parallel_for: every index exactly once, disjoint non-empty chunks of at least
// `grain` items (but the last), for many n / grain combinations with 1 and 3 threads; repeated
// and concurrent calls.
#include "engine/util/thread_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace dlx {
namespace {

class ThreadPoolTest : public ::testing::TestWithParam<int> {};

TEST_P(ThreadPoolTest, CoversEveryIndexExactlyOnce) {
  ThreadPool pool(GetParam());
  EXPECT_EQ(pool.size(), GetParam());
  for (int64_t n : {0, 1, 2, 3, 4, 5, 7, 9, 16, 17, 63, 64, 65, 100, 1000, 4097}) {
    for (int64_t grain : {0, 1, 2, 3, 4, 7, 16, 64, 1000, 5000}) {
      SCOPED_TRACE(testing::Message() << "n " << n << " grain " << grain);
      std::vector<std::atomic<int>> hits(n);
      std::mutex mu;
      std::vector<std::pair<int64_t, int64_t>> chunks;
      pool.parallel_for(n, grain, [&](int64_t b, int64_t e) {
        {
          std::lock_guard<std::mutex> lk(mu);
          chunks.emplace_back(b, e);
        }
        for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "index " << i;
      if (n == 0) {
        EXPECT_TRUE(chunks.empty());
        continue;
      }
      std::sort(chunks.begin(), chunks.end());
      for (size_t c = 0; c < chunks.size(); ++c) {
        const auto [b, e] = chunks[c];
        EXPECT_LT(b, e) << "empty chunk";
        if (c + 1 < chunks.size()) {
          EXPECT_GE(e - b, std::max<int64_t>(grain, 1)) << "chunk [" << b << ", " << e << ")";
        }
      }
    }
  }
}

TEST_P(ThreadPoolTest, ManyCallsInARow) {
  ThreadPool pool(GetParam());
  std::atomic<int64_t> sum{0};
  for (int r = 0; r < 2000; ++r) {
    pool.parallel_for(50, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) sum += i;
    });
  }
  EXPECT_EQ(sum.load(), 2000 * (49 * 50 / 2));
}

TEST_P(ThreadPoolTest, ConcurrentCallersAreSerialisedCorrectly) {
  ThreadPool pool(GetParam());
  std::vector<std::atomic<int>> a(1000), b(777);
  auto body = [&](std::vector<std::atomic<int>>& v) {
    for (int r = 0; r < 200; ++r) {
      pool.parallel_for(static_cast<int64_t>(v.size()), 8, [&](int64_t s, int64_t e) {
        for (int64_t i = s; i < e; ++i) v[i].fetch_add(1);
      });
    }
  };
  std::thread t1(body, std::ref(a)), t2(body, std::ref(b));
  t1.join();
  t2.join();
  for (auto& x : a) ASSERT_EQ(x.load(), 200);
  for (auto& x : b) ASSERT_EQ(x.load(), 200);
}

TEST(ThreadPool, ZeroMeansAllHardwareThreads) {
  ThreadPool pool(0);
  EXPECT_EQ(pool.size(), ThreadPool::hardware_threads());
  EXPECT_GE(pool.size(), 1);
}

INSTANTIATE_TEST_SUITE_P(Threads, ThreadPoolTest, ::testing::Values(1, 3),
                         [](const auto& info) { return std::to_string(info.param) + "threads"; });

}  // namespace
}  // namespace dlx
