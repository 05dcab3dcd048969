// generate_template(): a CanvasTemplate (fixed text and holes) tokenized and filled by the one
// denoising loop. The engine's text-level infill API; rules in canvas_spec.h.
#pragma once

#include <string>
#include <vector>

#include "engine/decode/canvas_spec.h"
#include "engine/decode/canvas_template.h"
#include "engine/decode/generate.h"
#include "engine/tokenizer/tokenizer.h"

namespace dlx {

// Tokenizes each fixed part on its own. The text before the first hole is the prompt (a chat
// rendered by the caller, or a plain prefix), encoded with `prompt_special_tokens` (BOS as a
// plain prompt gets it); later parts without special tokens. A template that starts with a hole
// gets the tokenizer's BOS as its prompt (Error kInvalidArgument "template" without one).
// Holes: Error kInvalidArgument naming "template[i].hole" for sizes outside 1..max_hole.
CanvasSpec tokenize_template(const CanvasTemplate& t, const Tokenizer& tok,
                             const ModelConfig& config, bool prompt_special_tokens = true,
                             int max_hole = 1 << 16);

struct TemplateResult {
  GenerateResult gen;                       // output_ids: the region (fixed text included)
  std::vector<std::vector<int32_t>> holes;  // per hole, its ids (end tokens removed)
  std::vector<std::string> hole_texts;      // per hole, its text
  std::string text;  // the template's text after the prompt: fixed parts and holes filled
};

// The holes and texts of a finished generation of `spec`.
TemplateResult template_result(const CanvasSpec& spec, GenerateResult gen, const Tokenizer& tok,
                               const ModelConfig& config);

// tokenize_template + generate + template_result.
TemplateResult generate_template(const Model& model, const Tokenizer& tok, const CanvasTemplate& t,
                                 const DecodeParams& params, const GenerateOptions& options = {},
                                 bool prompt_special_tokens = true);

}  // namespace dlx
