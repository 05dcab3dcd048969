// The bundled demo model (models/dlx-demo-llada, trained by tools/train_demo_model.py) end to
// end: real weights, its own BPE tokenizer, the chat template and greedy decoding with the
// model's defaults must give the exact, true answers of its synthetic tasks. The expected
// strings are the tasks' correct answers, computed here, never recorded outputs.
// tests/bench/demo_quality prints the accuracy / forward-calls table on the held-out prompts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "engine/backend/backend_factory.h"
#include "engine/decode/decode_params.h"
#include "engine/model/model.h"
#include "tests/bench/demo_task.h"
#include "tests/support/test_util.h"

namespace dlx {
namespace {

const std::string kDemo = DLX_SOURCE_DIR "/models/dlx-demo-llada";
// The README's measured count on the held-out prompts with these defaults, less a margin.
constexpr int kMinHeldOutCorrect = 136;  // measured 146 of 200

class DemoModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = Model::load(kDemo, make_backend("cpu", 2, nullptr), {});
    tok_ = Tokenizer::load(kDemo);
  }
  static void TearDownTestSuite() {
    model_.reset();
    tok_.reset();
  }
  // Greedy with the model's defaults (LLaDA, generation_config's 32-token canvas, one token per
  // step, preset fast) unless `commit` asks for threshold decoding or `preset` for another one.
  static DecodeParams params(CommitRule commit = CommitRule::kSchedule,
                             std::optional<Preset> preset = std::nullopt) {
    DecodeParams p = default_decode_params(model_->config());
    if (preset) apply_preset(p, *preset);
    p.commit = commit;
    p.seed = 7;
    return p;
  }
  static std::string answer(const std::string& prompt, CommitRule commit = CommitRule::kSchedule,
                            std::optional<Preset> preset = std::nullopt) {
    return demo::run_task(*model_, *tok_, prompt, params(commit, preset)).text;
  }
  static std::shared_ptr<Model> model_;
  static std::shared_ptr<Tokenizer> tok_;
};
std::shared_ptr<Model> DemoModel::model_;
std::shared_ptr<Tokenizer> DemoModel::tok_;

std::string reversed(std::string s) {
  std::reverse(s.begin(), s.end());
  return s;
}
std::string sorted(std::string s) {
  std::sort(s.begin(), s.end());
  return s;
}

TEST_F(DemoModel, IsSmallAndComplete) {
  namespace fs = std::filesystem;
  uintmax_t bytes = 0;
  for (const auto& e : fs::directory_iterator(kDemo)) bytes += e.file_size();
  EXPECT_LE(bytes, 20u * 1000 * 1000);
  for (const char* f : {"config.json", "generation_config.json", "model.safetensors",
                        "tokenizer.json", "tokenizer_config.json", "README.md"}) {
    EXPECT_TRUE(fs::is_regular_file(fs::path(kDemo) / f)) << f;
  }
  // generation_config.json's max_new_tokens is the default canvas: one 32-token block.
  EXPECT_EQ(params().gen_length, 32);
  EXPECT_EQ(effective_block_length(params()), 32);
}

TEST_F(DemoModel, AnswersSyntheticTasksExactly) {
  // Prompts this model answers (its addition is right about one time in ten,
  // README); the expected strings are computed, never recorded.
  // The two sums are ones the reference algorithm gets right (preset fast gets others right:
  // its held-out accuracy is measured below and in the README).
  EXPECT_EQ(answer("38+63=", CommitRule::kSchedule, Preset::kOfficial), std::to_string(38 + 63));
  EXPECT_EQ(answer("27+34=", CommitRule::kSchedule, Preset::kOfficial), std::to_string(27 + 34));
  EXPECT_EQ(answer("copy: 7044"), "7044");
  EXPECT_EQ(answer("reverse: 4588"), reversed("4588"));
  EXPECT_EQ(answer("sort: 5391"), sorted("5391"));
  EXPECT_EQ(answer("sort: 8642"), sorted("8642"));
}

TEST_F(DemoModel, ThresholdDecodingAgrees) {
  EXPECT_EQ(answer("copy: 7044", CommitRule::kThreshold), "7044");
  EXPECT_EQ(answer("reverse: 4588", CommitRule::kThreshold), reversed("4588"));
  EXPECT_EQ(answer("sort: 5391", CommitRule::kThreshold), sorted("5391"));
}

// The model's generation_config asks for preset fast: the exact tasks still answer exactly, and
// the padding after the answer costs no forwards of its own (the official schedule spends 32).
TEST_F(DemoModel, FastPresetIsTheDefaultAndSkipsThePadding) {
  EXPECT_EQ(params().preset, Preset::kFast);
  EXPECT_TRUE(params().eos_fill);
  for (const CommitRule commit : {CommitRule::kSchedule, CommitRule::kThreshold}) {
    for (const auto& [prompt, want] : {std::pair<std::string, std::string>{"copy: 7044", "7044"},
                                       {"reverse: 4588", reversed("4588")},
                                       {"sort: 5391", sorted("5391")}}) {
      const demo::TaskOutcome fast = demo::run_task(*model_, *tok_, prompt, params(commit));
      EXPECT_EQ(fast.text, want) << prompt;
      const demo::TaskOutcome official =
          demo::run_task(*model_, *tok_, prompt, params(commit, Preset::kOfficial));
      EXPECT_EQ(official.text, want) << prompt;
      // The answer (4 digits and the end token) is committed before any padding forward.
      EXPECT_LE(fast.result.forward_calls, fast.result.answer_tokens) << prompt;
      EXPECT_LE(fast.result.forward_calls, official.result.forward_calls) << prompt;
    }
  }
}

// Quality guard on the 200 held-out prompts (never trained on): the engine's greedy answers
// must stay near the accuracy the model card and README report. A margin, not the exact count,
// since other SIMD paths may flip a near-tie.
TEST_F(DemoModel, HeldOutAccuracyHolds) {
  std::ifstream in(DLX_SOURCE_DIR "/tests/bench/demo_heldout.jsonl");
  ASSERT_TRUE(in);
  int correct = 0, n = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    correct += answer(j.at("prompt").get<std::string>()) == j.at("answer").get<std::string>();
    ++n;
  }
  EXPECT_EQ(n, 200);
  EXPECT_GE(correct, kMinHeldOutCorrect) << correct << " of " << n;
}

// "Tell me a fortune." gets English words, not byte soup.
TEST_F(DemoModel, TellsAFortuneInWords) {
  const std::string reply = answer("Tell me a fortune.");
  std::istringstream words(reply);
  int n = 0, wordlike = 0;
  for (std::string w; words >> w; ++n) {
    wordlike += std::all_of(w.begin(), w.end(),
                            [](unsigned char ch) {
                              return std::isalpha(ch) || std::ispunct(ch) || std::isdigit(ch);
                            }) &&
                std::any_of(w.begin(), w.end(), [](unsigned char ch) { return std::isalpha(ch); });
  }
  EXPECT_GE(n, 3) << reply;
  EXPECT_GE(wordlike * 10, n * 9) << reply;
}

// The CLI without --model uses the demo model (DIFFULEX_MODEL unset).
TEST_F(DemoModel, IsTheDefaultModel) {
  const test::RunResult r = test::run("env -u DIFFULEX_MODEL " + test::binary() +
                                      " generate --prompt 'sort: 5391' --chat");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(demo::trim(r.out), sorted("5391"));
}

}  // namespace
}  // namespace dlx
