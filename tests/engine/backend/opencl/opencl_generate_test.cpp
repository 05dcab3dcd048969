// Generation parity: every required golden generation case of tests/fixtures/models/*/
// cases.json decoded on the OpenCL backend gives exactly the expected ids (the ids the CPU
// backend gives, tests/engine/decode/golden_generate_test.cpp).
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "engine/backend/backend_factory.h"
#include "engine/decode/generate.h"
#include "engine/model/model.h"
#include "tests/support/golden_cases.h"
#include "tests/support/opencl_test_util.h"
#include "tests/support/test_util.h"

namespace dlx::test {
namespace {

TEST(OpenClGenerate, RequiredGoldenCasesGiveExpectedIds) {
  DLX_REQUIRE_OPENCL();
  std::string note;
  std::shared_ptr<Backend> backend = make_backend("opencl", 1, &note);
  ASSERT_NE(backend->name(), "cpu") << note;
  int cases = 0;
  for (const char* fam : {"llada", "dream", "sdar", "fast_dllm_v2"}) {
    auto model = Model::load(model_dir(fam), backend);
    const auto j = nlohmann::json::parse(read_file(model_dir(fam) + "/cases.json"));
    for (const auto& c : j["cases"]) {
      if (!c["required"].get<bool>()) continue;
      SCOPED_TRACE(std::string(fam) + ": " + c["id"].get<std::string>());
      const DecodeParams p = golden_case_params(model->config(), c);
      const auto prompt = c["prompt_ids"].get<std::vector<int32_t>>();
      const GenerateResult r = generate(*model, prompt, p);
      EXPECT_EQ(r.output_ids, c["expected_ids"].get<std::vector<int32_t>>());
      ++cases;
    }
  }
  EXPECT_GT(cases, 0);
}

}  // namespace
}  // namespace dlx::test
