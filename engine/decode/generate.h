// generate(): the one denoising loop. Fills a canvas of mask tokens after the prompt, block by
// block, as configured by DecodeParams, reporting every forward through a StepEvent. A
// CanvasSpec (templates: fixed text and holes) is filled the same way, its holes only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "engine/decode/canvas_spec.h"
#include "engine/decode/decode_params.h"
#include "engine/decode/finish_reason.h"
#include "engine/decode/step_event.h"
#include "engine/model/model.h"

namespace dlx {

struct GenerateOptions {
  std::function<void(const StepEvent&)> on_step;  // may be empty
  // Checked before every forward and between its layers: when the flag is set generate throws
  // Error kCancelled, when the deadline has passed kTimeout.
  const std::atomic<bool>* cancel = nullptr;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  // A session to run in (kept by the caller between generations); replaced by a large enough
  // one when it is too small. Null: generate uses its own.
  Session* session = nullptr;
};

// Memory the sessions of one generation hold (bytes), known before it starts: the KV cache
// and activations for the canvas, logits for the rows one forward scores, twice with
// classifier-free guidance. For admission control.
uint64_t generation_bytes(const ModelConfig& c, int prompt_len, const DecodeParams& p);
// Admission control: throws Error kInvalidArgument (param "gen_length", reason
// "memory_budget_exceeded", both numbers in the message) when generation_bytes exceeds
// max_bytes; `budget_name` says where the limit comes from (e.g. "--max-request-memory").
void check_generation_budget(const ModelConfig& c, int prompt_len, const DecodeParams& p,
                             uint64_t max_bytes, const std::string& budget_name);

struct GenerateResult {
  std::vector<int32_t> output_ids;  // generated positions, up to and incl. the end token
  int forward_calls = 0;
  int64_t forward_tokens = 0;  // positions computed over all forwards (what caches save)
  FinishReason finish_reason = FinishReason::kLength;
  double total_ms = 0;
  std::vector<double> step_ms;  // per forward
  int canvas_length = 0;        // prompt + generated region
  int32_t mask_id = -1;
  // The answer: output_ids up to and including the first end token (never padding). What
  // token counts and tokens/s count.
  int answer_tokens = 0;
  int end_from = -1;  // eos_fill: output position from which the tail was filled (-1: none)
  // Templates: what the text reads (text_region(): the template's positions, less the end
  // tokens closing variable holes). Empty for a plain generation: its text reads output_ids.
  std::vector<int32_t> text_ids;
};

// Tokens of `output_ids` up to and including the first end token (all when there is none).
int answer_token_count(std::span<const int32_t> output_ids, const ModelConfig& c);

// Runs the loop. Throws Error kInvalidArgument / kOutOfRange for invalid parameters (validated
// first) and kCancelled when options.cancel becomes true.
GenerateResult generate(const Model& model, std::span<const int32_t> prompt,
                        const DecodeParams& params, const GenerateOptions& options = {});

// The decoding a spec runs with: `params` with gen_length = the region's length (the template
// decides it). For admission control (generation_bytes) and validation before queueing.
DecodeParams canvas_params(const CanvasSpec& spec, const DecodeParams& params);

// Fills the spec's holes (rules: canvas_spec.h). output_ids is the region as generated
// (fixed text included); hole_contents() reads the holes from it. generate(prompt) is this
// with plain_canvas(prompt, gen_length), the same ids. Throws as generate() does, and Error
// kInvalidArgument naming "template[i]" for holes the family's attention cannot serve.
GenerateResult generate(const Model& model, const CanvasSpec& spec, const DecodeParams& params,
                        const GenerateOptions& options = {});

}  // namespace dlx
