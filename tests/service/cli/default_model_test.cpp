// Commands without --model: $DIFFULEX_MODEL, else the bundled demo model folder, else a clear
// error naming both ways to give a model.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/support/test_util.h"

namespace dlx::test {
namespace {

TEST(DefaultModel, ComesFromTheEnvironment) {
  const RunResult r = run("env DIFFULEX_MODEL=" + model_dir("llada") + " " + binary() +
                          " generate --prompt-ids 1,2,3 --gen-length 4 --block-length 4 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(last_line(r.out).find("\"output_ids\""), std::string::npos) << r.out;
}

TEST(DefaultModel, MissingGivesAnActionableError) {
  if (std::filesystem::exists(std::string(DLX_SOURCE_DIR) + "/models/dlx-demo-llada")) {
    GTEST_SKIP() << "the demo model is bundled in this checkout";
  }
  const RunResult r = run("env -u DIFFULEX_MODEL " + binary() + " generate --prompt-ids 1,2,3");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--model"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("DIFFULEX_MODEL"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace dlx::test
