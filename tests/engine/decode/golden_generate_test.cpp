// Golden generations: every required case of tests/fixtures/models/*/cases.json reproduced
// token for token from its DECODING.md parameters alone, with forward calls reported next to
// the official count (ours may be fewer, never more).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "engine/decode/generate.h"
#include "engine/model/model.h"
#include "tests/support/golden_cases.h"
#include "tests/support/test_util.h"

namespace dlx::test {
namespace {

struct GenCase {
  std::string family;
  nlohmann::json c;
};

std::vector<GenCase> required_cases() {
  std::vector<GenCase> out;
  for (const char* fam : {"llada", "dream", "sdar", "fast_dllm_v2"}) {
    auto j = nlohmann::json::parse(read_file(model_dir(fam) + "/cases.json"));
    for (const auto& c : j["cases"]) {
      if (c["required"].get<bool>()) out.push_back({fam, c});
    }
  }
  return out;
}

std::shared_ptr<Model> model_for(const std::string& family) {
  static std::map<std::string, std::shared_ptr<Model>> cache;
  auto& m = cache[family];
  if (!m) m = Model::load(model_dir(family), make_cpu_backend(1));
  return m;
}

void PrintTo(const GenCase& g, std::ostream* os) { *os << g.family << ": " << g.c["id"]; }

class GoldenGenerate : public ::testing::TestWithParam<GenCase> {};

TEST_P(GoldenGenerate, ReproducesOfficialIds) {
  const auto& g = GetParam();
  auto model = model_for(g.family);
  const DecodeParams p = golden_case_params(model->config(), g.c);
  std::vector<int32_t> prompt = g.c["prompt_ids"].get<std::vector<int32_t>>();
  GenerateResult r = generate(*model, prompt, p);
  EXPECT_EQ(r.output_ids, g.c["expected_ids"].get<std::vector<int32_t>>());
  const int official = g.c["official_forward_calls"].get<int>();
  EXPECT_LE(r.forward_calls, official);
  std::cout << "[forward calls] " << g.family << " ours " << r.forward_calls << " official "
            << official << "\n";
  RecordProperty("forward_calls", r.forward_calls);
  RecordProperty("official_forward_calls", official);
}

INSTANTIATE_TEST_SUITE_P(AllFamilies, GoldenGenerate, ::testing::ValuesIn(required_cases()),
                         [](const auto& info) {
                           return info.param.family + "_" + std::to_string(info.index);
                         });

}  // namespace
}  // namespace dlx::test
