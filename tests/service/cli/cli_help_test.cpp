// Every command's --help, as `diffulex --help` lists them: exit 0, the usage on stdout, nothing
// on stderr (make-random-model's preset table once threw on a name longer than its padding);
// and --version.
#include <gtest/gtest.h>

#include <sstream>

#include "tests/support/test_util.h"

namespace dlx::test {
namespace {

std::vector<std::string> commands() {
  const RunResult r = run(binary() + " --help");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> out;
  std::istringstream in(r.out);
  bool listing = false;
  for (std::string line; std::getline(in, line);) {
    if (line == "commands:") {
      listing = true;
    } else if (listing && line.rfind("  ", 0) == 0) {
      out.push_back(line.substr(2, line.find(' ', 2) - 2));
    } else {
      listing = false;
    }
  }
  return out;
}

TEST(CliHelp, EveryCommandPrintsItsUsage) {
  const auto cmds = commands();
  ASSERT_GE(cmds.size(), 10u);
  for (const auto& cmd : cmds) {
    SCOPED_TRACE(cmd);
    const RunResult r = run(binary() + " " + cmd + " --help");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("usage: diffulex " + cmd, 0), 0u) << r.out.substr(0, 200);
    EXPECT_EQ(r.err, "");
  }
}

TEST(CliHelp, VersionNamesTheReleaseAndRevision) {
  const RunResult r = run(binary() + " --version");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("diffulex 0.", 0), 0u) << r.out;
  EXPECT_NE(r.out.find(" ("), std::string::npos) << r.out;
}

}  // namespace
}  // namespace dlx::test
