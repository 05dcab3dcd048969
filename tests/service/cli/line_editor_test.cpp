// LineEditor's history and its file, without a terminal: bounded, private (0600, directories
// 0700), read back by the next session, and failures reported rather than thrown.
#include "service/cli/line_editor.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/test_util.h"

namespace dlx::cli {
namespace {

namespace fs = std::filesystem;

class LineEditorHistory : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string t = (fs::temp_directory_path() / "dlx_line_editor_XXXXXX").string();
    ASSERT_NE(mkdtemp(t.data()), nullptr);
    dir_ = t;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

mode_t mode_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 0777) : 0;
}

TEST_F(LineEditorHistory, KeepsTheLastEntriesInAPrivateFileTheNextSessionReads) {
  const std::string path = dir_ + "/state/diffulex/chat_history";
  std::string error;
  {
    LineEditor editor("test", 3);
    for (const char* line : {"one", "two", "two", "", "three \\", "four é"})
      editor.add_history(line);
    ASSERT_TRUE(editor.save_history(path, &error)) << error;
  }
  EXPECT_EQ(mode_of(path), 0600u);
  EXPECT_EQ(mode_of(dir_ + "/state/diffulex"), 0700u);
  const std::string saved = dlx::test::read_file(path);
  EXPECT_EQ(saved.find("one"), std::string::npos) << "only the last 3: " << saved;
  EXPECT_NE(saved.find("four"), std::string::npos) << saved;
  EXPECT_FALSE(fs::exists(path + "." + std::to_string(getpid()) + ".tmp"));

  // Read back and written again: the same entries.
  LineEditor next("test", 1000);
  ASSERT_TRUE(next.load_history(path, &error)) << error;
  const std::string again = dir_ + "/again";
  ASSERT_TRUE(next.save_history(again, &error)) << error;
  EXPECT_EQ(dlx::test::read_file(again), saved);
}

TEST_F(LineEditorHistory, AMissingFileIsAnEmptyHistoryAndABadOneAnError) {
  LineEditor editor("test", 10);
  std::string error;
  EXPECT_TRUE(editor.load_history(dir_ + "/none/chat_history", &error)) << error;
  { std::ofstream(dir_ + "/empty"); }
  EXPECT_TRUE(editor.load_history(dir_ + "/empty", &error)) << error;

  { std::ofstream(dir_ + "/garbage") << "not a history\n"; }
  EXPECT_FALSE(editor.load_history(dir_ + "/garbage", &error));
  EXPECT_NE(error.find("delete it"), std::string::npos) << error;
  error.clear();
  EXPECT_FALSE(editor.load_history(dir_, &error));  // a directory
  EXPECT_FALSE(error.empty());

  error.clear();
  EXPECT_FALSE(editor.save_history(dir_ + "/garbage/chat_history", &error));  // under a file
  EXPECT_FALSE(error.empty());
}

}  // namespace
}  // namespace dlx::cli
