// StepEvent: what one forward of the denoising loop changed, and its one JSON form (used by
// `diffulex generate --trace` and the HTTP denoise stream's `step` event alike).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

namespace dlx {

class Tokenizer;

// What one forward changed. Positions index the generated region: 0 is the first position
// after the prompt.
struct StepEvent {
  int step = 0;                          // forward index, 0-based
  int block = 0;                         // decode block index
  std::vector<int> positions;            // committed in this step, in commit order
  std::vector<int32_t> tokens;           // their tokens
  std::vector<float> confidences;        // their confidence scores
  int masks_remaining = 0;               // masks left in the whole generated region
  int span_tokens = 0;                   // tokens the forward computed
  double forward_ms = 0;                 // time of the forward
  int end_from = -1;                     // eos_fill: from here on the region is end tokens that
                                         // are never computed (one collapsed "end" region); -1 none
  int span_end = 0;                      // the forward's last computed position + 1 and its
  int keys_end = 0;                      // attention length, on the canvas (prompt included)
  std::span<const int32_t> canvas;       // the generated region now (mask id where masked);
                                         // valid only during the callback: a copy kept for later
                                         // must clear it
  std::span<const int32_t> text_canvas;  // the region as its text reads: canvas, or for a
                                         // template text_region() of it (canvas_spec.h);
                                         // same lifetime as canvas
};

// {"step", "block", "positions", "tokens", "confidences", "masks_remaining", "span_tokens",
// "forward_ms", "end_from"} and, given a tokenizer, "pieces" (each committed token's text). The
// canvas, span_end and keys_end are not part of it.
nlohmann::json to_json(const StepEvent& e, const Tokenizer* tokenizer = nullptr);

}  // namespace dlx
