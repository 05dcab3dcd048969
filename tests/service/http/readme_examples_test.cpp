// Every `curl` example in README.md, run as written against a real `diffulex serve` on the bundled
// model (issue #23: a newcomer's first curl must work). The server starts the way
// `scripts/run.sh` starts it (no --model: the bundled model as dlx-demo-llada) with a
// --models-dir holding `sdar-1.7b` for the registration examples. Each example must answer 2xx;
// a trailing comment that starts with `{` is the answer's shape, where `...` stands for anything
// and `<words>` for any string, and must match the whole answer.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/support/serve_harness.h"

namespace dlx::test {
namespace {

namespace fs = std::filesystem;

struct Example {
  int line = 0;          // README line of the command's first line
  std::string command;   // as written, continuation lines joined with '\n'
  std::string expected;  // the trailing comment after '#', when it starts with '{'
};

// The commands of README's fenced `sh` blocks that start with `curl `. A command goes on while a
// single quote is open; a `#` outside quotes starts its comment.
std::vector<Example> readme_examples(const std::string& path) {
  std::ifstream in(path);
  std::vector<Example> out;
  std::string line;
  bool in_sh = false;
  Example cur;
  bool open_quote = false;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.rfind("```", 0) == 0) {
      in_sh = !in_sh && line.rfind("```sh", 0) == 0;
      continue;
    }
    if (!in_sh) continue;
    if (!open_quote && line.rfind("curl ", 0) != 0) continue;
    if (!open_quote) cur = Example{n, "", ""};
    std::string code;
    size_t i = 0;
    for (; i < line.size(); ++i) {
      if (line[i] == '\'') open_quote = !open_quote;
      if (line[i] == '#' && !open_quote && (i == 0 || line[i - 1] == ' ')) break;
      code += line[i];
    }
    while (!code.empty() && code.back() == ' ') code.pop_back();
    cur.command += (cur.command.empty() ? "" : "\n") + code;
    if (open_quote) continue;
    if (i < line.size()) {
      std::string comment = line.substr(i + 1);
      comment.erase(0, comment.find_first_not_of(' '));
      // "{...}; more words": the shape ends at the first "; ".
      if (auto semi = comment.find("; "); semi != std::string::npos) comment.resize(semi);
      if (!comment.empty() && comment[0] == '{') cur.expected = comment;
    }
    out.push_back(cur);
  }
  return out;
}

// `{"a":...,"b":"<any words>"}` -> a regex over the compact answer.
std::regex shape_regex(const std::string& shape) {
  std::string re;
  for (size_t i = 0; i < shape.size();) {
    if (shape.compare(i, 3, "...") == 0) {
      re += ".*";
      i += 3;
    } else if (shape[i] == '<' && shape.find('>', i) != std::string::npos) {
      re += "[^\"]*";
      i = shape.find('>', i) + 1;
    } else {
      if (std::strchr("\\^$.|?*+()[]{}", shape[i])) re += '\\';
      re += shape[i++];
    }
  }
  return std::regex(re);
}

// Copies a fixture model folder's files (a link would point outside --models-dir: refused).
void copy_model(const std::string& from, const fs::path& to) {
  fs::create_directories(to);
  for (const auto& f : fs::directory_iterator(from)) {
    if (f.is_regular_file()) fs::copy_file(f.path(), to / f.path().filename());
  }
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

TEST(ReadmeExamples, EveryCurlExampleWorksAsWritten) {
  const auto examples = readme_examples(DLX_SOURCE_DIR "/README.md");
  ASSERT_GE(examples.size(), 10u) << "README.md lost its examples?";

  TempDir dir;
  copy_model(model_dir("sdar"), fs::path(dir.file("models")) / "sdar-1.7b");
  ServerProcess s(dir.path(), {"--db", dir.file("serve.db"), "--models-dir", dir.file("models")},
                  {{"DIFFULEX_MODEL", ""}});
  ASSERT_TRUE(s.wait_ready()) << s.stderr_text();
  const std::string base = "localhost:" + std::to_string(s.port());

  std::string last_id;  // an example that names a generation id gets the latest one answered
  const std::regex any_id("gen-[0-9a-f]{24}");
  for (const Example& e : examples) {
    std::string cmd = std::regex_replace(e.command, std::regex("localhost:8080"), base);
    if (!last_id.empty()) cmd = std::regex_replace(cmd, any_id, last_id);
    // The answer, then its status on a line of its own.
    const RunResult r =
        run("bash -c " + shell_quote(cmd + " --silent --show-error --write-out '\\n%{http_code}'"));
    SCOPED_TRACE("README.md:" + std::to_string(e.line) + ": " + e.command);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const size_t nl = r.out.rfind('\n');
    ASSERT_NE(nl, std::string::npos) << r.out;
    const std::string body = r.out.substr(0, nl);
    const int status = std::atoi(r.out.c_str() + nl + 1);
    EXPECT_GE(status, 200) << body;
    EXPECT_LT(status, 300) << body;
    if (!e.expected.empty()) {
      EXPECT_TRUE(std::regex_match(body, shape_regex(e.expected)))
          << "the README shows " << e.expected << "\nthe server answered " << body;
    }
    std::smatch m;
    if (std::regex_search(body, m, std::regex("\"id\":\"(gen-[0-9a-f]{24})\""))) last_id = m[1];
  }
  EXPECT_EQ(s.terminate(), 0) << s.stderr_text();
}

}  // namespace
}  // namespace dlx::test
