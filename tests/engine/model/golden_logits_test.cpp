// Golden logits: `diffulex forward` against the official PyTorch outputs of every family,
// for F32 and BF16 weight files (tests/fixtures/models/*/logits/index.json).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "tests/support/test_util.h"

namespace dlx::test {
namespace {

struct LogitsCase {
  std::string family;
  nlohmann::json entry;
};

std::vector<LogitsCase> all_cases() {
  std::vector<LogitsCase> out;
  for (const char* fam : {"llada", "dream", "sdar", "fast_dllm_v2"}) {
    auto idx = nlohmann::json::parse(read_file(model_dir(fam) + "/logits/index.json"));
    for (const auto& e : idx["entries"]) out.push_back({fam, e});
  }
  return out;
}

void PrintTo(const LogitsCase& c, std::ostream* os) { *os << c.family << "/" << c.entry["file"]; }

class GoldenLogits : public ::testing::TestWithParam<LogitsCase> {};

// The goldens were computed in float32 ("compute" in index.json): f32 products, which bf16
// weights get only with --precision exact (their default is bf16 products: see
// bf16_precision_test.cpp for that path against the same goldens).
TEST_P(GoldenLogits, MatchesOfficialWithinTolerance) {
  const auto& c = GetParam();
  const std::string dir = model_dir(c.family);
  std::string ids;
  for (const auto& id : c.entry["input_ids"]) ids += (ids.empty() ? "" : ",") + std::to_string(id.get<int>());
  const std::string out = ::testing::TempDir() + "/logits_" + c.family + "_" +
                          c.entry["file"].get<std::string>();
  std::string cmd = binary() + " forward --model " + dir + " --weights " + dir + "/" +
                    c.entry["weights"].get<std::string>() + " --ids " + ids + " --threads 2 --precision exact --out " + out;
  if (c.entry["attention"].is_object()) {
    cmd += " --block-length " + std::to_string(c.entry["attention"]["block_causal"].get<int>());
  }
  RunResult r = run(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const int T = c.entry["shape"][0], V = c.entry["shape"][1];
  EXPECT_EQ(last_line(r.out), "{\"shape\":[" + std::to_string(T) + "," + std::to_string(V) + "]}");
  std::vector<float> got = read_f32(out);
  std::vector<float> ref = read_f32(dir + "/logits/" + c.entry["file"].get<std::string>());
  ASSERT_EQ(got.size(), ref.size());
  float max_d = 0, max_ref = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    max_d = std::max(max_d, std::fabs(got[i] - ref[i]));
    max_ref = std::max(max_ref, std::fabs(ref[i]));
  }
  EXPECT_LE(max_d / max_ref, 1e-4f) << "max|d| " << max_d << " max|ref| " << max_ref;
}

INSTANTIATE_TEST_SUITE_P(AllFamilies, GoldenLogits, ::testing::ValuesIn(all_cases()),
                         [](const auto& info) {
                           std::string n = info.param.family + "_" +
                                           info.param.entry["file"].template get<std::string>();
                           std::replace_if(n.begin(), n.end(), [](char ch) { return !isalnum(ch); }, '_');
                           return n;
                         });

}  // namespace
}  // namespace dlx::test
