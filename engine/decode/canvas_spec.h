// CanvasSpec: a template (canvas_template.h) tokenized: the prompt, then the region the
// denoising loop works on, with fixed ids and mask ids at the holes. What generate() takes for
// infill and structured output; a plain generation is the spec of one final hole.
//
// Rules (README: Infill):
// - The prompt is every token before the first hole; the region is everything after it.
// - Only hole positions are masked, scored and committed; fixed tokens never change.
// - An exact hole (min == max) that is followed by fixed text holds exactly n tokens: end
//   tokens are forbidden in it. An exact hole that ends the template is today's generated
//   region: the model may end it with an end token (stop_at_eos, eos_fill as usual).
// - A variable hole (min < max) forbids end tokens before offset min; once an end token is
//   committed in it, its later positions become that end token (no forwards spent on them)
//   and the hole's content is what lies before its first end token.
// - Block-aligned families round the canvas up to whole blocks: after an unconstrained exact
//   final hole the extra positions are masks decoded with it (as in a plain generation, so
//   output_ids are its ids), otherwise fixed end tokens. Either way they are not part of any
//   hole or of the text: a hole of n holds at most n tokens.
// - Block-causal families (SDAR, Fast-dLLM v2) see text after a hole only inside the hole's
//   block: the fixed text after a hole (up to the next hole) must end inside the block where
//   the hole ends, or begin on the next block boundary (then it only follows the hole, left to
//   right). Anything else is Error kInvalidArgument (param "template").
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/decode/canvas_template.h"
#include "engine/decode/decode_params.h"
#include "engine/model/model_config.h"

namespace dlx {

struct CanvasHole {
  int begin = 0;                                      // region offset of the hole's first position
  int length = 0;                                     // positions (the hole's max_tokens)
  int min_tokens = 0;                                 // < length: a variable hole
  std::shared_ptr<const TokenConstraint> constraint;  // null: any token
  int part = -1;  // index of the template part it came from (-1: none, for messages)
  std::string name;
  bool variable() const { return min_tokens < length; }
};

struct CanvasSpec {
  std::vector<int32_t> prompt;    // fixed tokens before the first hole
  std::vector<int32_t> region;    // [G] fixed ids, mask_id at hole positions
  std::vector<CanvasHole> holes;  // in region order, non-overlapping, at least one
};

// The spec of a plain generation: prompt + one exact final hole of gen_length.
CanvasSpec plain_canvas(std::span<const int32_t> prompt, int gen_length, int32_t mask_id);

// Checks the holes against the region and the family's attention (rules above). `params` is
// the decoding the spec will run with (its gen_length is the region length). Throws Error
// kInvalidArgument naming "template" or "template[i]" (i = the hole's part).
void validate_canvas(const CanvasSpec& spec, const ModelConfig& config, const DecodeParams& params);

// What the holes hold in a final region (`output` as generated, after the prompt; shorter than
// the canvas when the generation stopped): per hole, its ids up to its first end token.
std::vector<std::vector<int32_t>> hole_contents(const CanvasSpec& spec,
                                                std::span<const int32_t> output,
                                                const ModelConfig& config);

// The region as a template's text reads: the positions of the template (no aligned tail), less
// the end tokens that close variable holes followed by fixed text (their first end token and
// the positions after it in the hole). `region` may hold masks and run past the template.
std::vector<int32_t> text_region(const CanvasSpec& spec, std::span<const int32_t> region,
                                 const ModelConfig& config);

}  // namespace dlx
