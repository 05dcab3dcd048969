// `diffulex tokenize`, `detokenize` and `render-chat` through the built binary: output formats
// and the exit-code contract (usage errors 2, runtime failures 1).
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/support/test_util.h"

namespace dlx::test {
namespace {

// Single-quotes s for /bin/sh.
std::string q(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out.push_back(c);
  }
  return out + "'";
}

std::string qwen3() {
  return fixtures() + "/tokenizers/qwen3";
}

TEST(CliTokenize, PrintsIdsPlainAndJson) {
  RunResult r =
      run(binary() + " tokenize --tokenizer " + q(qwen3()) + " --text " + q("Hello, world!"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "9707,11,1879,0\n");
  r = run(binary() + " tokenize --tokenizer " + q(qwen3() + "/tokenizer.json") + " --json --text " +
          q("<|im_start|>user\nhi<|im_end|>"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"ids\":[151644,872,198,6023,151645]}\n");
  r = run(binary() + " tokenize --tokenizer " + q(qwen3()) + " --json --text ''");
  EXPECT_EQ(r.out, "{\"ids\":[]}\n");
}

TEST(CliTokenize, ReadsFilesAndReportsSpeed) {
  const std::string f = ::testing::TempDir() + "/cli_tok_input.txt";
  { std::ofstream(f) << "Hello, world!"; }
  RunResult r =
      run(binary() + " tokenize --tokenizer " + q(qwen3()) + " --file " + q(f) + " --stats");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "9707,11,1879,0\n");
  EXPECT_NE(r.err.find("13 bytes -> 4 tokens"), std::string::npos) << r.err;
}

TEST(CliTokenize, InvalidUtf8IsReplaced) {
  RunResult bad = run(binary() + " tokenize --tokenizer " + q(qwen3()) + " --text " +
                      q("a\xFF"
                        "b"));
  RunResult fixed = run(binary() + " tokenize --tokenizer " + q(qwen3()) + " --text " +
                        q("a\xEF\xBF\xBD"
                          "b"));
  EXPECT_EQ(bad.exit_code, 0) << bad.err;
  EXPECT_EQ(bad.out, fixed.out);
}

TEST(CliDetokenize, PrintsTextExactly) {
  RunResult r =
      run(binary() + " detokenize --tokenizer " + q(qwen3()) + " --ids 151644,872,198,6023,151645");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<|im_start|>user\nhi<|im_end|>");
  r = run(binary() + " detokenize --tokenizer " + q(qwen3()) +
          " --ids 151644,872,198,6023,151645 --skip-special-tokens --json");
  EXPECT_EQ(r.out, "{\"text\":\"user\\nhi\"}\n");
}

TEST(CliRenderChat, PrintsThePromptWithNoAddedNewline) {
  const std::string f = ::testing::TempDir() + "/cli_chat_messages.json";
  { std::ofstream(f) << R"([{"role": "user", "content": "What is 2+2?"}])"; }
  RunResult r = run(binary() + " render-chat --tokenizer " + q(qwen3()) + " --messages " + q(f) +
                    " --add-generation-prompt");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
  r = run(binary() + " render-chat --tokenizer " + q(qwen3()) +
              " --messages - --add-generation-prompt " + "--vars '{\"enable_thinking\": false}'",
          R"({"messages": [{"role": "user", "content": "x"}]})");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
}

TEST(CliTokenizerErrors, UsageErrorsExit2RuntimeFailuresExit1) {
  auto expect_exit = [](const std::string& args, int code, const std::string& stdin_text = "") {
    RunResult r = run(binary() + " " + args, stdin_text);
    EXPECT_EQ(r.exit_code, code) << args << "\n" << r.err;
    EXPECT_EQ(r.out, "") << args;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line on stderr: " << r.err;
  };
  const std::string tok = " --tokenizer " + q(qwen3());
  expect_exit("tokenize --text hi", 2);                     // no --tokenizer
  expect_exit("tokenize" + tok, 2);                         // no text
  expect_exit("tokenize" + tok + " --text a --file b", 2);  // both
  expect_exit("tokenize" + tok + " --file /nonexistent/x.txt", 2);
  expect_exit("tokenize" + tok + " --text a --bogus", 2);
  expect_exit("detokenize" + tok + " --ids 1,x", 2);
  expect_exit("detokenize" + tok + " --ids 99999999", 2);  // outside vocab
  expect_exit("render-chat" + tok + " --messages -", 2, "{not json");
  expect_exit("render-chat" + tok + " --messages -", 2, R"({"role": "user"})");
  expect_exit("render-chat" + tok + " --messages -", 2,
              R"([{"role": "user", "content": "<tool_response>"}, 1])");
  expect_exit("tokenize --tokenizer /nonexistent/dir --text hi", 1);
  const std::string dir = ::testing::TempDir() + "/cli_bad_tok";
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir + "/tokenizer.json")
        << "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}";
  }
  expect_exit("tokenize --tokenizer " + q(dir) + " --text hi", 1);
}

}  // namespace
}  // namespace dlx::test
