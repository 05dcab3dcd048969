// CanvasView: the live terminal view of `diffulex chat` while a reply is generated — the
// generated region redrawn after every forward, masked positions as dim placeholders and the
// tokens committed by that forward highlighted; positions after the first committed end token
// are one collapsed "end" region. Only used when stdout is a terminal.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/decode/generate.h"
#include "engine/tokenizer/tokenizer.h"

namespace dlx::cli {

class CanvasView {
 public:
  CanvasView(const Tokenizer& tok, const ModelConfig& config, FILE* out);

  void update(const StepEvent& e);  // redraws the canvas in place
  void clear();                     // erases it (before the final answer is printed)

 private:
  std::string piece(int32_t id) const;  // printable text of one token

  const Tokenizer& tok_;
  const ModelConfig& config_;
  int32_t mask_id_;
  FILE* out_;
  int lines_shown_ = 0;  // terminal lines the last drawing occupies
  std::vector<bool> fresh_;
};

}  // namespace dlx::cli
