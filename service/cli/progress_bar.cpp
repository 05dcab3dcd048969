#include "service/cli/progress_bar.h"

#include <unistd.h>

#include <cstdio>

namespace dlx::cli {

ProgressBar::ProgressBar() : tty_(::isatty(2) != 0), start_(std::chrono::steady_clock::now()) {}

void ProgressBar::update(uint64_t done, uint64_t total, const std::string& label) {
  const int pct = total ? static_cast<int>(100 * done / total) : 100;
  if (tty_ ? pct == last_pct_ && label == last_label_ : pct / 10 == last_pct_ / 10) return;
  last_pct_ = pct;
  last_label_ = label;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  constexpr int kWidth = 30;
  std::string bar(kWidth * pct / 100, '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "%s%s [%s] %3d%%  %.2f / %.2f GB  %.0f MB/s%s", tty_ ? "\r" : "",
               label.c_str(), bar.c_str(), pct, done / 1e9, total / 1e9,
               s > 0 ? done / 1e6 / s : 0.0, tty_ ? "\x1b[K" : "\n");
  if (tty_ && done == total) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

}  // namespace dlx::cli
