// LineEditor: line editing and history on a terminal, through libedit (BSD licence; GNU
// readline's GPL would bind the binary). Emacs keys by default, ~/.editrc applies. Used by
// `diffulex chat` only when stdin and stdout are terminals.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace dlx::cli {

class LineEditor {
 public:
  enum class Status { kLine, kInterrupted, kEnd };
  struct Result {
    Status status = Status::kEnd;
    std::string text;  // kLine: the line, no newline; kInterrupted: what had been typed
  };

  // Edits on stdin/stdout; keeps at most `history_size` entries.
  LineEditor(const char* program, size_t history_size);
  ~LineEditor();
  LineEditor(const LineEditor&) = delete;
  LineEditor& operator=(const LineEditor&) = delete;

  // One line after `prompt` (its ANSI escape sequences take no columns). Ctrl-C ends the line
  // as kInterrupted; Ctrl-D on an empty line, or the end of input, is kEnd.
  Result read(const std::string& prompt);

  // Empty lines and repeats of the last entry are not added.
  void add_history(const std::string& line);
  // The history file in libedit's format. A missing file loads as empty; saving creates the
  // file (mode 0600) and its missing directories (0700). False, with `error` set, on failure.
  bool load_history(const std::string& path, std::string* error);
  bool save_history(const std::string& path, std::string* error);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dlx::cli
