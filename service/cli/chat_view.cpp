// Drawing with ANSI escapes: the cursor goes back up over the previous drawing (whose height
// is computed from the display width of its characters and the terminal width) and the screen
// below it is cleared before the new one is printed.
#include "service/cli/chat_view.h"

#include <sys/ioctl.h>
#include <unistd.h>
#include <utf8proc.h>

#include <algorithm>

#include "engine/tokenizer/utf8.h"

namespace dlx::cli {
namespace {

constexpr const char* kDim = "\x1b[2m";
constexpr const char* kNew = "\x1b[1;32m";
constexpr const char* kReset = "\x1b[0m";
constexpr const char* kPlaceholder = "\xC2\xB7";  // "·" for a masked position

void terminal_size(FILE* out, int* cols, int* rows) {
  winsize ws{};
  if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    *cols = ws.ws_col;
    *rows = ws.ws_row > 0 ? ws.ws_row : 24;
  } else {
    *cols = 80;
    *rows = 24;
  }
}

// Display columns of valid UTF-8 text (wide CJK characters take two).
int width_of(const std::string& s) {
  int w = 0;
  size_t i = 0;
  while (i < s.size()) {
    const char32_t c = utf8::next(s, i);
    w += std::max(0, utf8proc_charwidth(static_cast<utf8proc_int32_t>(c)));
  }
  return w;
}

}  // namespace

CanvasView::CanvasView(const Tokenizer& tok, const ModelConfig& config, FILE* out)
    : tok_(tok), config_(config), mask_id_(config.mask_id), out_(out) {}

std::string CanvasView::piece(int32_t id) const {
  const int32_t one[1] = {id};
  std::string raw = tok_.decode(one, /*skip_special_tokens=*/false);
  std::string shown;
  size_t i = 0;
  while (i < raw.size()) {
    const size_t b = i;
    const char32_t c = utf8::next(raw, i);
    if (c == '\n') {
      shown += "\xE2\x86\xB5";  // "↵": the view stays one paragraph, so its height is known
    } else if (c == '\t') {
      shown += ' ';
    } else if (c >= 0x20 && c != 0x7F) {
      shown.append(raw, b, i - b);
    }
  }
  return shown;
}

void CanvasView::update(const StepEvent& e) {
  int cols, rows;
  terminal_size(out_, &cols, &rows);
  // Cells up to and including the first committed end token; what follows is one region.
  const size_t n = static_cast<size_t>(answer_token_count(e.canvas, config_));
  const size_t tail = e.canvas.size() - n;
  const std::string end_region = tail ? " [end x" + std::to_string(tail) + "]" : "";
  fresh_.assign(n, false);
  for (int p : e.positions) {
    if (p >= 0 && static_cast<size_t>(p) < n) fresh_[static_cast<size_t>(p)] = true;
  }
  // Cells of every position; when they do not fit on the screen the oldest are left out.
  std::vector<std::string> text(n);
  std::vector<int> width(n);
  long total = 0;
  for (size_t i = 0; i < n; ++i) {
    const int32_t id = e.canvas[i];
    text[i] = id == mask_id_ ? std::string(kPlaceholder) : piece(id);
    width[i] = id == mask_id_ ? 1 : width_of(text[i]);
    total += width[i];
  }
  total += static_cast<long>(end_region.size());  // ASCII: one column a byte
  const long budget = static_cast<long>(std::max(1, rows - 3)) * cols - 1;
  size_t first = 0;
  while (total > budget && first < n) total -= width[first++];

  std::string s;
  if (lines_shown_ > 1) s += "\x1b[" + std::to_string(lines_shown_ - 1) + "A";
  s += "\r\x1b[J";
  if (first > 0) s += "\xE2\x80\xA6";  // "…"
  for (size_t i = first; i < n; ++i) {
    if (e.canvas[i] == mask_id_) {
      s += kDim + text[i] + kReset;
    } else if (fresh_[i]) {
      s += kNew + text[i] + kReset;
    } else {
      s += text[i];
    }
  }
  s += kDim + end_region + kReset;
  const std::string status = "step " + std::to_string(e.step + 1) + ", block " +
                             std::to_string(e.block + 1) + ", " +
                             std::to_string(e.masks_remaining) + " masked";
  s += std::string("\n") + kDim + status + kReset;
  std::fputs(s.c_str(), out_);
  std::fflush(out_);
  const long body = total + (first > 0 ? 1 : 0);
  lines_shown_ = static_cast<int>(std::max(1L, (body + cols - 1) / cols)) + 1;
}

void CanvasView::clear() {
  if (lines_shown_ == 0) return;
  std::string s;
  if (lines_shown_ > 1) s += "\x1b[" + std::to_string(lines_shown_ - 1) + "A";
  s += "\r\x1b[J";
  std::fputs(s.c_str(), out_);
  std::fflush(out_);
  lines_shown_ = 0;
}

}  // namespace dlx::cli
