// Templates and infill over HTTP (README: Infill): the `template` array of /v1/generate, the
// body of /v1/infill, and OpenAI's `suffix` on /v1/completions, turned into the engine's
// CanvasTemplate and then, against a loaded model, into the canvas a job runs. Every problem
// is a 400 naming the part ("template[3].hole", "suffix", "max_tokens").
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "engine/decode/canvas_spec.h"
#include "engine/decode/canvas_template.h"
#include "engine/decode/template_text.h"
#include "service/http/generation_request.h"

namespace dlx::http {

// `template` (engine/decode/template_text.h: template_from_json); 400 naming the part.
CanvasTemplate parse_template(const nlohmann::json& v);

// POST /v1/infill: {"model", "prefix", "suffix", "max_tokens", "min_tokens", "diffusion",
// "stream", "add_special_tokens"}; max_tokens is the hole's size, min_tokens (default: the
// same, an exact hole) makes it variable.
GenerationInput parse_infill_input(const nlohmann::json& body);

// The request's template: /v1/generate's `template`, /v1/infill's prefix + hole + suffix,
// /v1/completions' prompt + hole_range(1, max_tokens) + suffix. nullopt for a plain request.
std::optional<CanvasTemplate> request_template(const GenerationInput& in, int default_max_tokens);

struct TemplateJob {
  std::shared_ptr<const CanvasSpec> canvas;
  int text_trim = 0;        // infill and suffix: the suffix's tokens (the answer is the middle)
  std::string prompt_text;  // the fixed text before the first hole (for the log)
  nlohmann::json log;       // what the generation log keeps about the template
};

// Tokenizes `t` with the model's tokenizer (400 "template"/"prompt" without one) and checks it
// against the family's attention and `params` (validate_canvas; params.gen_length is ignored).
TemplateJob resolve_template(const LoadedModel& model, const GenerationInput& in,
                             const CanvasTemplate& t, const DecodeParams& params);

}  // namespace dlx::http
