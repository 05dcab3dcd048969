// ChatInput off a terminal: plain lines, a trailing backslash joining lines into one message,
// and where the history file goes (the terminal side: cli_chat_pty_test).
#include "service/cli/chat_input.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace dlx::cli {
namespace {

std::vector<std::string> messages(const std::string& text) {
  std::istringstream in(text);
  ChatInput input(/*terminal=*/false, in, "");
  std::vector<std::string> out;
  while (std::optional<std::string> m = input.next()) out.push_back(*m);
  EXPECT_FALSE(input.next().has_value()) << "the end stays the end";
  return out;
}

TEST(ChatInput, PlainLinesAreMessagesAsTheyCome) {
  EXPECT_EQ(messages("hello\n/temp 0.5\n\nbye\r\n"),
            (std::vector<std::string>{"hello", "/temp 0.5", "", "bye\r"}));
  EXPECT_EQ(messages("no newline at the end"), (std::vector<std::string>{"no newline at the end"}));
  EXPECT_TRUE(messages("").empty());
}

TEST(ChatInput, ABackslashAtTheEndContinuesTheMessage) {
  EXPECT_EQ(messages("one \\\ntwo\\  \nthree\nfour\n"),
            (std::vector<std::string>{"one \ntwo\nthree", "four"}));
  EXPECT_EQ(messages("a \\\r\nb\r\n"), (std::vector<std::string>{"a \nb\r"}));
  EXPECT_EQ(messages("inner \\ backslash\n"), (std::vector<std::string>{"inner \\ backslash"}));
  // Input that ends inside a message still sends it.
  EXPECT_EQ(messages("last \\\n"), (std::vector<std::string>{"last \n"}));
}

TEST(ChatInput, HistoryLivesInTheXdgStateDirectory) {
  const char* old_state = getenv("XDG_STATE_HOME");
  const char* old_home = getenv("HOME");
  const std::string saved_state = old_state ? old_state : "", saved_home = old_home ? old_home : "";

  setenv("XDG_STATE_HOME", "/s", 1);
  setenv("HOME", "/h", 1);
  EXPECT_EQ(chat_history_path(), "/s/diffulex/chat_history");
  setenv("XDG_STATE_HOME", "relative", 1);  // ignored, as the XDG spec says
  EXPECT_EQ(chat_history_path(), "/h/.local/state/diffulex/chat_history");
  unsetenv("XDG_STATE_HOME");
  EXPECT_EQ(chat_history_path(), "/h/.local/state/diffulex/chat_history");
  unsetenv("HOME");
  EXPECT_EQ(chat_history_path(), "");

  if (old_state) setenv("XDG_STATE_HOME", saved_state.c_str(), 1);
  if (old_home) setenv("HOME", saved_home.c_str(), 1);
}

}  // namespace
}  // namespace dlx::cli
