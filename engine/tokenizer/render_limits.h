// jinja::RenderLimits: the budget of one chat template render (kept apart from the
// interpreter's headers so the tokenizer API can take it).
#pragma once

#include <cstdint>

#include "engine/util/interrupt.h"

namespace dlx::jinja {

// What one render may spend. A chat template comes from a model folder (semi-trusted) and runs
// on the HTTP thread, so loops, repetition and output are bounded and the render can be
// stopped. Real templates use a few thousand steps and produce the conversation's size.
struct RenderLimits {
  int64_t max_steps = 1'000'000;         // statements + expressions evaluated (< 1 s)
  uint64_t max_output_bytes = 8u << 20;  // the rendered text
  const Interrupt* interrupt = nullptr;  // checked every 1024 steps: cancel flag, deadline
};

}  // namespace dlx::jinja
