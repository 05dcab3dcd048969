// `diffulex quality` on the fixture models, run as a user runs it: a model against itself is
// exact (KL 0, every top-1 and every generated token the same), int8 products against exact
// ones stay within a measured KL bound, and models that are not two versions of the same
// weights (another family, another vocabulary, another tokenizer) are clear errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/test_util.h"

namespace dlx::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json quality_json(const std::string& args) {
  const RunResult r = run(binary() + " quality --device cpu --threads 2 --json " + args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (r.exit_code != 0) return json::object();
  return json::parse(last_line(r.out));
}

TEST(CliQuality, AModelAgainstItselfAgreesExactly) {
  // LLaDA (bidirectional, chat template) and SDAR (block-causal) cover both attention kinds.
  for (const char* family : {"llada", "sdar"}) {
    SCOPED_TRACE(family);
    const std::string dir = model_dir(family);
    const json j = quality_json("--model " + dir + " --ref " + dir + " --gen-length 16");
    ASSERT_TRUE(j.contains("overall")) << j.dump();
    const json& all = j["overall"];
    EXPECT_EQ(all["kl_mean"], 0.0);
    EXPECT_EQ(all["kl_max"], 0.0);
    EXPECT_EQ(all["top1_agreement"], 1.0);
    EXPECT_EQ(all["generation_match"], 1.0);
    EXPECT_EQ(all["generations_identical"], all["generations"]);
    ASSERT_EQ(j["prompts"].size(), 5u);  // the built-in set
    EXPECT_EQ(all["generations"], 5);
    for (const json& p : j["prompts"]) {
      // Every row of the first step's canvas (prompt + 16 masks) is scored.
      EXPECT_EQ(p["rows"], p["prompt_tokens"].get<int>() + 16);
      EXPECT_EQ(p["ref_output"], p["model_output"]);
      EXPECT_FALSE(p["ref_output"].empty());
    }
    EXPECT_EQ(j["model"]["family"], family);
    EXPECT_EQ(j["params"]["gen_length"], 16);
    EXPECT_EQ(j["params"]["temperature"], 0.0);
  }
}

TEST(CliQuality, Int8AgainstExactHasASmallPositiveKl) {
  // Measured on the llada fixture with the built-in prompts (325 rows): KL mean 0.0251, max 0.301
  // nats, top-1 90.8%. The fixture's random weights give logits of +-30, which int8 weights and
  // activations move by up to 3 (`diffulex forward --precision int8` shows the same); the
  // bounds leave 3x room.
  const std::string dir = model_dir("llada");
  const json j = quality_json("--model " + dir + " --precision int8 --ref " + dir);
  ASSERT_TRUE(j.contains("overall")) << j.dump();
  const json& all = j["overall"];
  EXPECT_EQ(j["model"]["precision"], "int8");
  EXPECT_EQ(j["ref"]["precision"], "exact");
  EXPECT_GT(all["kl_mean"].get<double>(), 0.0);
  EXPECT_LT(all["kl_mean"].get<double>(), 0.075);
  EXPECT_LT(all["kl_max"].get<double>(), 0.9);
  EXPECT_GE(all["top1_agreement"].get<double>(), 0.8);
  EXPECT_GT(all["rows"].get<int>(), 5 * 32);
}

TEST(CliQuality, TablePrintsARowPerPromptAndOverall) {
  const std::string dir = model_dir("dream");
  const std::string prompts = ::testing::TempDir() + "/dlx_quality_prompts.jsonl";
  std::ofstream(prompts) << "{\"prompt\": \"sort: 6897\", \"answer\": \"6789\"}\nhello there\n";
  const RunResult r = run(binary() + " quality --threads 2 --model " + dir + " --ref " + dir +
                          " --prompts " + prompts + " --gen-length 8 --block-length 8");
  fs::remove(prompts);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("| 1 | sort: 6897 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| 2 | hello there |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| all | 2 prompts |  | "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2/2 identical | 100.0% (16/16) |"), std::string::npos) << r.out;
}

TEST(CliQuality, ModelsOfAnotherFamilyOrVocabularyAreNamedInTheError) {
  const std::string llada = model_dir("llada"), dream = model_dir("dream");
  RunResult r = run(binary() + " quality --threads 2 --model " + llada + " --ref " + dream);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("different families"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(llada + " (llada"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(dream + " (dream"), std::string::npos) << r.err;

  // The demo model is a LLaDA too, with a vocabulary of 1262 instead of 512.
  const std::string demo = std::string(DLX_SOURCE_DIR) + "/models/dlx-demo-llada";
  r = run(binary() + " quality --threads 2 --model " + demo + " --ref " + llada);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("different vocabulary sizes"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("vocab 1262"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("vocab 512"), std::string::npos) << r.err;
}

TEST(CliQuality, PromptsThatTokenizeDifferentlyAreAnError) {
  // The same weights with another chat template: the rendered prompts differ.
  const std::string dir = ::testing::TempDir() + "/dlx_quality_other_template";
  fs::remove_all(dir);
  fs::copy(model_dir("llada"), dir, fs::copy_options::recursive);
  json cfg = json::parse(read_file(dir + "/tokenizer_config.json"));
  cfg["chat_template"] = "{% for m in messages %}Q: {{ m['content'] }}\n{% endfor %}A:";
  std::ofstream(dir + "/tokenizer_config.json") << cfg.dump();
  const RunResult r =
      run(binary() + " quality --threads 2 --model " + dir + " --ref " + model_dir("llada"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("prompt 1 "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("different token ids"), std::string::npos) << r.err;
  // --no-chat encodes the plain text, which the two tokenizers agree on.
  const RunResult plain = run(binary() + " quality --threads 2 --no-chat --gen-length 8 --model " +
                              dir + " --ref " + model_dir("llada"));
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  fs::remove_all(dir);
}

TEST(CliQuality, UsageErrors) {
  const std::string dir = model_dir("llada");
  RunResult r = run(binary() + " quality --model " + dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--ref"), std::string::npos) << r.err;
  r = run(binary() + " quality --model " + dir + " --ref " + dir + " --ref-precision int4");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("precision"), std::string::npos) << r.err;
  // A canvas longer than the model's 512 positions fails before anything is printed.
  r = run(binary() + " quality --model " + dir + " --ref " + dir + " --gen-length 1000");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("gen_length"), std::string::npos) << r.err;
  r = run(binary() + " quality --model " + dir + " --ref " + dir + " --prompts /nonexistent.txt");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent.txt"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace dlx::test
