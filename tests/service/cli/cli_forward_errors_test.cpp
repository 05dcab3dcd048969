// `diffulex forward` failure contract, through the built binary: usage errors exit 2 and
// runtime failures exit 1, each with exactly one line on stderr and nothing on stdout.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/safetensors_writer.h"

namespace dlx::test {
namespace {

struct Failure {
  int exit_code;
  std::string err;
};

Failure forward(const std::string& args) {
  RunResult r = run(binary() + " forward " + args);
  EXPECT_EQ(r.out, "") << "stdout must stay empty on failure";
  return {r.exit_code, r.err};
}

// One line: a single newline, at the end, and some text before it.
void expect_one_line(const std::string& err) {
  ASSERT_GT(err.size(), 1u);
  EXPECT_EQ(err.find('\n'), err.size() - 1) << err;
}

class CliForwardErrors : public ::testing::Test {
 protected:
  std::string model() const { return model_dir("dream"); }
  std::string out() const { return ::testing::TempDir() + "/cli_forward_errors.f32"; }
  Failure forward_ids(const std::string& ids) {
    return forward("--model " + model() + " --ids " + ids + " --out " + out());
  }
};

TEST_F(CliForwardErrors, MissingIdsIsUsageError) {
  Failure f = forward("--model " + model() + " --out " + out());
  EXPECT_EQ(f.exit_code, 2);
  expect_one_line(f.err);
  EXPECT_NE(f.err.find("missing required option --ids"), std::string::npos) << f.err;
}

TEST_F(CliForwardErrors, BadIdListIsUsageError) {
  for (const char* ids : {"1,,2", "a", "1,-3", "1,2,", "''", "1.5", "99999999999"}) {
    SCOPED_TRACE(ids);
    Failure f = forward_ids(ids);
    EXPECT_EQ(f.exit_code, 2);
    expect_one_line(f.err);
    EXPECT_NE(f.err.find("--ids"), std::string::npos) << f.err;
  }
}

TEST_F(CliForwardErrors, UnknownOptionIsUsageError) {
  Failure f = forward("--model " + model() + " --ids 1 --out " + out() + " --bogus 3");
  EXPECT_EQ(f.exit_code, 2);
  expect_one_line(f.err);
  EXPECT_NE(f.err.find("unknown option --bogus"), std::string::npos) << f.err;
}

TEST_F(CliForwardErrors, OptionWithoutValueIsUsageError) {
  Failure f = forward("--model " + model() + " --out " + out() + " --ids");
  EXPECT_EQ(f.exit_code, 2);
  expect_one_line(f.err);
  EXPECT_NE(f.err.find("--ids needs a value"), std::string::npos) << f.err;
}

TEST_F(CliForwardErrors, IdOutsideVocabularyIsUsageError) {
  Failure f = forward_ids("1,512");  // the fixture's vocabulary is 512
  EXPECT_EQ(f.exit_code, 2);
  expect_one_line(f.err);
  EXPECT_NE(f.err.find("token id 512 is outside the vocabulary of 512"), std::string::npos)
      << f.err;
}

TEST_F(CliForwardErrors, BadBlockLengthAndThreadsAreUsageErrors) {
  for (const char* extra : {"--block-length 0", "--block-length x", "--threads -1"}) {
    SCOPED_TRACE(extra);
    Failure f = forward("--model " + model() + " --ids 1,2 --out " + out() + " " + extra);
    EXPECT_EQ(f.exit_code, 2);
    expect_one_line(f.err);
  }
}

TEST_F(CliForwardErrors, MissingModelDirIsRuntimeFailure) {
  Failure f = forward("--model /nonexistent/model --ids 1 --out " + out());
  EXPECT_EQ(f.exit_code, 1);
  expect_one_line(f.err);
  EXPECT_NE(f.err.find("/nonexistent/model"), std::string::npos) << f.err;
}

TEST_F(CliForwardErrors, MalformedFileIsRuntimeFailure) {
  const std::string dir = copy_model("dream");
  std::string s = read_file(dir + "/model.safetensors");
  write_bytes(dir + "/model.safetensors", s.substr(0, 6));
  Failure f = forward("--model " + dir + " --ids 1 --out " + out());
  EXPECT_EQ(f.exit_code, 1);
  expect_one_line(f.err);
  EXPECT_NE(f.err.find(dir + "/model.safetensors: truncated file"), std::string::npos) << f.err;
}

TEST_F(CliForwardErrors, MalformedConfigIsRuntimeFailure) {
  const std::string dir = copy_model("dream");
  write_bytes(dir + "/config.json", "{");
  Failure f = forward("--model " + dir + " --ids 1 --out " + out());
  EXPECT_EQ(f.exit_code, 1);
  expect_one_line(f.err);
  EXPECT_NE(f.err.find(dir + "/config.json: invalid JSON"), std::string::npos) << f.err;
}

TEST_F(CliForwardErrors, UnwritableOutputIsRuntimeFailure) {
  Failure f = forward("--model " + model() + " --ids 1 --out /nonexistent/dir/x.f32");
  EXPECT_EQ(f.exit_code, 1);
  expect_one_line(f.err);
}

}  // namespace
}  // namespace dlx::test
