// ChatInput: the messages typed into `diffulex chat`. On a terminal: line editing and a
// history kept in chat_history_path() (LineEditor); otherwise plain lines from a stream, as a
// script sends them. Either way a line ending in a backslash continues on the next line.
#pragma once

#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

namespace dlx::cli {

class LineEditor;

class ChatInput {
 public:
  static constexpr size_t kHistorySize = 1000;

  // terminal: edit lines on stdin/stdout with `history_path` ("" keeps the history in memory
  // only); otherwise read plain lines from `in`.
  ChatInput(bool terminal, std::istream& in, std::string history_path);
  ~ChatInput();
  ChatInput(const ChatInput&) = delete;
  ChatInput& operator=(const ChatInput&) = delete;

  // The next message, its lines joined by '\n'; nullopt when the input ends or the user leaves
  // (Ctrl-D, or Ctrl-C at an empty prompt twice in a row). Ctrl-C with text typed drops it.
  std::optional<std::string> next();

 private:
  void warn(const std::string& what);
  void remember(const std::string& line);  // into the history and its file

  std::istream& in_;
  std::unique_ptr<LineEditor> editor_;
  std::string history_path_;
  bool ended_ = false;
  bool save_warned_ = false;
  bool interrupted_at_empty_ = false;  // the last Ctrl-C was at an empty prompt
};

// $XDG_STATE_HOME/diffulex/chat_history (an absolute XDG_STATE_HOME only, as the XDG spec
// says), else $HOME/.local/state/diffulex/chat_history; "" when neither is set.
std::string chat_history_path();

}  // namespace dlx::cli
