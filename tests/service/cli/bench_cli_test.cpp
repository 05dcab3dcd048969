// The benchmark commands end to end on the tiny preset: make-random-model, then `diffulex bench`
// (forward timings, --peak, --generate) with one repetition. Only the shape and sanity of the
// JSON are checked (fields present, positive, finite): timings are printed, never asserted.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "tests/support/test_util.h"

namespace dlx::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

void expect_positive(const json& obj, const char* key) {
  ASSERT_TRUE(obj.contains(key)) << "missing \"" << key << "\" in " << obj.dump();
  ASSERT_TRUE(obj[key].is_number()) << key << " is " << obj[key].dump();
  const double v = obj[key].get<double>();
  EXPECT_TRUE(std::isfinite(v) && v > 0) << key << " = " << v;
}

class BenchCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = ::testing::TempDir() + "/dlx_bench_" + std::to_string(::getpid());
    for (const char* family : {"dream", "sdar"}) {
      const RunResult r = run(binary() + " make-random-model --family " + family +
                              " --preset tiny --out " + dir_ + "/" + family);
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string dir_;
};
std::string BenchCli::dir_;

TEST_F(BenchCli, ForwardJsonHasEveryFieldAndSaneValues) {
  for (const char* family : {"dream", "sdar"}) {
    SCOPED_TRACE(family);
    const std::string model = dir_ + "/" + family;
    const RunResult r =
        run(binary() + " bench --model " + model + " --canvas 8,33 --reps 1 --threads 2 --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::cout << last_line(r.out) << "\n";  // the numbers, for whoever reads the log
    const json j = json::parse(last_line(r.out));
    EXPECT_EQ(j["model"], model);
    EXPECT_EQ(j["device"], "cpu");
    EXPECT_EQ(j["threads"], 2);
    expect_positive(j, "load_ms");
    expect_positive(j, "rss_mb");
    expect_positive(j, "peak_gflops");
    ASSERT_TRUE(j["results"].is_array());
    ASSERT_EQ(j["results"].size(), 2u);
    EXPECT_EQ(j["results"][0]["canvas"], 8);
    EXPECT_EQ(j["results"][1]["canvas"], 33);
    for (const json& res : j["results"]) {
      for (const char* k : {"median_ms", "min_ms", "max_ms", "gflops", "peak_fraction"}) {
        expect_positive(res, k);
      }
      EXPECT_LE(res["min_ms"].get<double>(), res["median_ms"].get<double>());
      EXPECT_LE(res["median_ms"].get<double>(), res["max_ms"].get<double>());
    }
  }
}

TEST_F(BenchCli, PeakReportsFp32AndMemoryBandwidth) {
  const RunResult r = run(binary() + " bench --peak --threads 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::cout << last_line(r.out) << "\n";
  const json j = json::parse(last_line(r.out));
  ASSERT_TRUE(j["peak"].is_array());
  bool fp32 = false, mem = false;
  for (const json& p : j["peak"]) {
    expect_positive(p, "value");
    EXPECT_EQ(p["threads"], 1);
    fp32 |= p["kind"] == "fp32_fma";
    mem |= p["kind"] == "mem_read";
  }
  EXPECT_TRUE(fp32 && mem) << j.dump();
}

TEST_F(BenchCli, GenerateReportsTokensPerSecondAndForwardCalls) {
  const RunResult r = run(binary() + " bench --model " + dir_ +
                          "/dream --canvas 8 --reps 1 --threads 1 --generate --prompt-len 5 "
                          "--gen-length 8 --steps 4 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::cout << last_line(r.out) << "\n";
  const json j = json::parse(last_line(r.out));
  ASSERT_TRUE(j.contains("generate")) << j.dump();
  const json& g = j["generate"];
  expect_positive(g, "tokens_per_s");
  expect_positive(g, "total_ms");
  EXPECT_EQ(g["forward_calls"], 4);
  EXPECT_EQ(g["output_tokens"], 8);  // stop_at_eos is off by default in bench
}

TEST_F(BenchCli, BadFlagsAreUsageErrors) {
  EXPECT_EQ(run(binary() + " bench").exit_code, 2);
  EXPECT_EQ(run(binary() + " bench --model " + dir_ + "/dream --canvas 0").exit_code, 2);
  EXPECT_EQ(run(binary() + " bench --model " + dir_ + "/dream --reps 0").exit_code, 2);
  EXPECT_EQ(run(binary() + " bench --model " + dir_ + "/dream --precision int4").exit_code, 2);
  EXPECT_EQ(run(binary() + " bench --model " + dir_ + "/dream --canvas 100000").exit_code, 2);
}

}  // namespace
}  // namespace dlx::test
