// `diffulex convert` through the built binary, and the GGUF file it writes used by the other
// commands in place of the folder (generate, tokenize, render-chat).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/test_util.h"

namespace dlx::test {
namespace {

using json = nlohmann::json;

TEST(CliConvert, WritesAGgufTheOtherCommandsUse) {
  const std::string out =
      ::testing::TempDir() + "/" + std::to_string(::getpid()) + "_cli_convert_dream.gguf";
  RunResult r = run(binary() + " convert --model " + model_dir("dream") + " --out " + out +
                    " --type q8_0 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json s = json::parse(r.out);
  EXPECT_EQ(s["out"], out);
  EXPECT_EQ(s["type"], "q8_0");
  EXPECT_GT(s["file_bytes"].get<int64_t>(), 0);
  EXPECT_GT(s["bits_per_weight"].get<double>(), 8.0);  // q8_0 is 8.5; f32 norms and biases
  EXPECT_LT(s["bits_per_weight"].get<double>(), 9.0);
  EXPECT_EQ(s["tensors"]["q8_0"], 16);  // every matrix
  EXPECT_EQ(s["tensors"]["f32"], 11);   // norms and q/k/v biases

  // The human summary.
  r = run(binary() + " convert --model " + model_dir("dream") + " --out " + out +
          ".f16.gguf --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("bits per weight"), std::string::npos) << r.out;

  // The file is a model: same tokens and chat rendering as the folder.
  const std::string text = "'Hello <|im_end|> world, 123!'";
  RunResult a = run(binary() + " tokenize --tokenizer " + out + " --text " + text);
  RunResult b = run(binary() + " tokenize --tokenizer " + model_dir("dream") + " --text " + text);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  const std::string msgs =
      ::testing::TempDir() + "/" + std::to_string(::getpid()) + "_cli_convert_msgs.json";
  { std::ofstream(msgs) << R"([{"role":"user","content":"Hi"}])"; }
  a = run(binary() + " render-chat --tokenizer " + out + " --messages " + msgs +
          " --add-generation-prompt");
  b = run(binary() + " render-chat --tokenizer " + model_dir("dream") + " --messages " + msgs +
          " --add-generation-prompt");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  r = run(binary() + " generate --model " + out +
          " --prompt-ids 48,138,303,110 --gen-length 8 --steps 8 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("output_ids"), std::string::npos) << r.out;
}

TEST(CliConvert, BadArgumentsAreUsageOrRuntimeErrors) {
  const std::string out =
      ::testing::TempDir() + "/" + std::to_string(::getpid()) + "_cli_convert_bad.gguf";
  RunResult r =
      run(binary() + " convert --model " + model_dir("dream") + " --out " + out + " --type q5_1");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("q5_1"), std::string::npos) << r.err;
  r = run(binary() + " convert --model /nonexistent --out " + out);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("/nonexistent"), std::string::npos) << r.err;
  r = run(binary() + " convert --model " + model_dir("dream"));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  // A file that is not GGUF where a model is expected.
  r = run(binary() + " generate --model " + model_dir("dream") + "/config.json --prompt-ids 1");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("not a GGUF file"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace dlx::test
