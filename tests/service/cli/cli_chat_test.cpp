// `diffulex chat` driven through a pipe: several turns, slash commands, /clear. Piped, it must
// print plain text only, keep the conversation between turns and survive bad input.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "tests/support/test_util.h"

namespace dlx::test {
namespace {

// Prompt sizes from the per-reply statistics lines on stderr.
std::vector<int> prompt_sizes(const std::string& err) {
  std::vector<int> out;
  const std::regex re(
      R"(\[(\d+) tokens, [0-9.]+ tokens/s, (\d+) forward calls, [0-9.]+ tokens/forward, prompt (\d+) tokens, finish (stop|length)\])");
  for (auto it = std::sregex_iterator(err.begin(), err.end(), re); it != std::sregex_iterator();
       ++it) {
    out.push_back(std::stoi((*it)[3]));
  }
  return out;
}

TEST(CliChat, ScriptedSessionThroughAPipe) {
  const std::string input =
      "Hello there\n"
      "/temp 0.5\n"
      "/topk 5\n"
      "/show\n"
      "How are you?\n"
      "/bogus\n"
      "/temp -3\n"
      "/max\n"
      "\n"
      "/clear\n"
      "Hello there\n"
      "/iter 8\n"
      "/max 8\n"
      "Bye \xFF invalid UTF-8\n"
      "/quit\n"
      "never read\n";
  RunResult r = run(binary() + " chat --model " + model_dir("dream") + " --gen-length 12", input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << "escape codes in piped output";
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos);
  // Settings are acknowledged, shown, and bad values refused with the old value kept.
  EXPECT_NE(r.out.find("temperature = 0.5\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("top_k = 5\n"), std::string::npos);
  EXPECT_NE(r.out.find("  temperature       0.5\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  messages          2\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(conversation cleared)\n"), std::string::npos);
  EXPECT_NE(r.out.find("steps = 8\n"), std::string::npos);
  EXPECT_NE(r.err.find("unknown command '/bogus'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("kept the previous value"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("/max needs a value"), std::string::npos) << r.err;

  // Four replies; the second prompt carries the first exchange, /clear starts over (the third
  // prompt is the first one again).
  const std::vector<int> prompts = prompt_sizes(r.err);
  ASSERT_EQ(prompts.size(), 4u) << r.err;
  EXPECT_GT(prompts[1], prompts[0] + 5);
  EXPECT_EQ(prompts[2], prompts[0]);
  EXPECT_GT(prompts[3], prompts[2]);
  EXPECT_NE(r.err.find("[8 tokens,"), std::string::npos) << "/max 8 applies to the last reply";
}

TEST(CliChat, EndOfInputEndsTheSessionAndErrorsAreUsageErrors) {
  RunResult r =
      run(binary() + " chat --model " + model_dir("llada") + " --gen-length 8 --block-length 8",
          "hi\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(prompt_sizes(r.err).size(), 1u) << r.err;
  r = run(binary() + " chat --model " + model_dir("llada") + " --gen-length 0", "hi\n");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = run(binary() + " chat --model " + model_dir("llada") + " --bogus 1", "");
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST(CliChat, TooLongAConversationIsReportedAndTheSessionContinues) {
  // The tiny models have 512 positions: a 2000-word message cannot fit, the next one can.
  std::string big;
  for (int i = 0; i < 2000; ++i) big += "word ";
  RunResult r =
      run(binary() + " chat --model " + model_dir("dream") + " --gen-length 8", big + "\nshort\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("/clear"), std::string::npos) << r.err;
  EXPECT_EQ(prompt_sizes(r.err).size(), 1u) << r.err;
}

}  // namespace
}  // namespace dlx::test
