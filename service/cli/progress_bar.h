// ProgressBar: a one-line progress bar on stderr for long file writes (make-random-model,
// convert): redrawn in place on a terminal, one line every 10% otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace dlx::cli {

class ProgressBar {
 public:
  ProgressBar();
  // `label` names what is being written (a file).
  void update(uint64_t done, uint64_t total, const std::string& label);

 private:
  bool tty_;
  int last_pct_ = -1;
  std::string last_label_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace dlx::cli
