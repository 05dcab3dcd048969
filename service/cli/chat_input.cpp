#include "service/cli/chat_input.h"

#include <cstdio>
#include <cstdlib>
#include <istream>
#include <utility>

#include "service/cli/line_editor.h"

namespace dlx::cli {
namespace {

constexpr const char* kPrompt = "\x1b[1myou>\x1b[0m ";
constexpr const char* kMore = "\x1b[1m...\x1b[0m ";  // after a line ending in a backslash
constexpr const char* kDim = "\x1b[2m";
constexpr const char* kReset = "\x1b[0m";

// True when the line ends in a backslash (trailing blanks aside), which is then removed.
bool continues(std::string& line) {
  const size_t end = line.find_last_not_of(" \t\r");
  if (end == std::string::npos || line[end] != '\\') return false;
  line.erase(end);
  return true;
}

}  // namespace

std::string chat_history_path() {
  const char* state = std::getenv("XDG_STATE_HOME");
  if (state && state[0] == '/') return std::string(state) + "/diffulex/chat_history";
  const char* home = std::getenv("HOME");
  if (home && home[0] != '\0') return std::string(home) + "/.local/state/diffulex/chat_history";
  return "";
}

ChatInput::ChatInput(bool terminal, std::istream& in, std::string history_path)
    : in_(in), history_path_(std::move(history_path)) {
  if (!terminal) return;
  editor_ = std::make_unique<LineEditor>("diffulex", kHistorySize);
  std::string error;
  if (history_path_.empty()) {
    warn("no history file: neither XDG_STATE_HOME nor HOME is set (history kept in memory)");
  } else if (!editor_->load_history(history_path_, &error)) {
    // Not saved over either: the file may be a user's that only needs its permissions fixed.
    warn("cannot read the history " + history_path_ + ": " + error + " (history kept in memory)");
    history_path_.clear();
  }
}

ChatInput::~ChatInput() = default;

void ChatInput::warn(const std::string& what) {
  std::fflush(stdout);
  std::fprintf(stderr, "diffulex chat: %s\n", what.c_str());
}

std::optional<std::string> ChatInput::next() {
  if (ended_) return std::nullopt;
  std::string message;
  bool more = false;  // a continuation line is expected
  while (true) {
    std::string line;
    if (!editor_) {
      if (!std::getline(in_, line)) break;
    } else {
      const LineEditor::Result r = editor_->read(more ? kMore : kPrompt);
      if (r.status == LineEditor::Status::kInterrupted) {
        const bool empty = r.text.empty() && !more;
        message.clear();
        more = false;
        if (empty && interrupted_at_empty_) return std::nullopt;
        interrupted_at_empty_ = empty;
        if (empty) std::printf("%s(Ctrl-C again or Ctrl-D to leave)%s\n", kDim, kReset);
        std::fflush(stdout);
        continue;
      }
      interrupted_at_empty_ = false;
      if (r.status == LineEditor::Status::kEnd) {
        std::printf("\n");  // after the "^D" libedit echoed
        std::fflush(stdout);
        break;
      }
      line = r.text;
      remember(line);
    }
    const bool cont = continues(line);
    message += line;
    if (!cont) return message;
    message += '\n';
    more = true;
  }
  ended_ = true;
  if (message.empty()) return std::nullopt;
  return message;  // the input ended after a line ending in a backslash: still sent
}

void ChatInput::remember(const std::string& line) {
  if (line.find_first_not_of(" \t") == std::string::npos) return;
  editor_->add_history(line);
  if (history_path_.empty()) return;
  std::string error;
  if (!editor_->save_history(history_path_, &error) && !save_warned_) {
    save_warned_ = true;
    warn("cannot save the history " + history_path_ + ": " + error);
  }
}

}  // namespace dlx::cli
