// `diffulex generate --device opencl:0` on the first required golden case of each family:
// the command line path (device flag, factory, fallback wiring) gives the expected ids.
// (Every required case is decoded on OpenCL in-process by opencl_generate_test.cpp.)
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/opencl_test_util.h"
#include "tests/support/test_util.h"

namespace dlx::test {
namespace {

TEST(OpenClGenerateCli, FirstRequiredCaseOfEachFamily) {
  DLX_REQUIRE_OPENCL();
  for (const char* fam : {"llada", "dream", "sdar", "fast_dllm_v2"}) {
    const auto j = nlohmann::json::parse(read_file(model_dir(fam) + "/cases.json"));
    for (const auto& c : j["cases"]) {
      if (!c["required"].get<bool>()) continue;
      SCOPED_TRACE(std::string(fam) + ": " + c["id"].get<std::string>());
      std::string ids;
      for (const auto& id : c["prompt_ids"]) {
        ids += (ids.empty() ? "" : ",") + std::to_string(id.get<int>());
      }
      std::string cmd = binary() + " generate --model " + model_dir(fam) + " --prompt-ids " + ids +
                        " --device opencl:0 --threads 1 --json";
      for (auto it = c["diffulex"].begin(); it != c["diffulex"].end(); ++it) {
        const auto& v = it.value();
        if (v.is_null()) continue;
        std::string flag = it.key();
        for (char& ch : flag) ch = ch == '_' ? '-' : ch;
        cmd += " --" + flag + " " +
               (v.is_string()    ? v.get<std::string>()
                : v.is_boolean() ? (v.get<bool>() ? "true" : "false")
                                 : v.dump());
      }
      const RunResult r = run(cmd);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      EXPECT_EQ(r.err.find("falling back"), std::string::npos) << r.err;
      const auto out = nlohmann::json::parse(last_line(r.out));
      EXPECT_EQ(out["output_ids"].get<std::vector<int32_t>>(),
                c["expected_ids"].get<std::vector<int32_t>>());
      break;  // one case per family: the in-process test covers the rest
    }
  }
}

}  // namespace
}  // namespace dlx::test
