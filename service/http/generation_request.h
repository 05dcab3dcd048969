// Parsing and validation of the three generation endpoints' bodies (OpenAI completions, OpenAI
// chat completions, native /v1/generate) into one typed request, and its resolution against a
// loaded model into the decoding parameters and prompt ids a job runs with. Every problem is
// an error naming the parameter (HTTP 400).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/decode/decode_params.h"
#include "engine/tokenizer/render_limits.h"
#include "service/jobs/job.h"
#include "service/jobs/model_registry.h"

namespace dlx::http {

struct GenerationInput {
  Endpoint endpoint = Endpoint::kGenerate;
  std::string model;
  std::optional<std::string> prompt;               // completions, generate
  std::optional<std::vector<int32_t>> prompt_ids;  // generate; completions' token-array prompt
  std::optional<nlohmann::json> messages;          // chat
  std::optional<std::string> system;               // Ollama /api/generate's system prompt
  // Ollama /api/generate without raw: the prompt (and system) go through the model's chat
  // template as one user turn when the model has one, as Ollama applies its template.
  bool template_prompt = false;
  bool add_special_tokens = true;  // text prompts (generate may turn it off)
  // Templates and infill (template_request.h): /v1/generate's `template` array; the suffix of
  // /v1/infill and /v1/completions; /v1/infill's min_tokens (a variable hole).
  std::optional<nlohmann::json> template_parts;
  std::optional<std::string> suffix;
  std::optional<int> min_tokens;
  nlohmann::json diffusion = nlohmann::json::object();
  std::optional<int> max_tokens;
  std::optional<double> temperature, top_p;
  std::optional<int> top_k;
  std::optional<double> min_p;
  std::optional<int64_t> seed;
  std::vector<std::string> stop;
  StreamMode stream = StreamMode::kNone;
  bool include_usage = false;  // OpenAI stream_options.include_usage: a last chunk with usage
};

// Throws ApiError / Error (400) naming the offending parameter.
GenerationInput parse_generation_input(Endpoint endpoint, const nlohmann::json& body);

// The request's decoding overrides as one JSON object: the OpenAI fields (max_tokens ->
// gen_length, temperature, top_p, top_k, min_p, seed; stop_at_eos on the OpenAI routes), then the
// `diffusion` object, whose keys win.
nlohmann::json decode_overrides(const GenerationInput& in);
// Decoding parameters for this request through the engine's one resolve_decode_params, the
// same rule as the CLI: max_tokens 30 gives 30 tokens, in a partial last block where the
// family's block does not divide it.
DecodeParams resolve_decode_params(const ModelConfig& config, const GenerationInput& in);

struct ResolvedPrompt {
  std::vector<int32_t> ids;
  std::optional<std::string> text;  // the prompt or the rendered chat, for the log
};
// Tokenizes (or takes prompt_ids), checks every id against the vocabulary. A chat is rendered
// within `limits` (the request's deadline, the template's step and size budget).
ResolvedPrompt resolve_prompt(const LoadedModel& model, const GenerationInput& in,
                              const jinja::RenderLimits& limits = {});

// Parses a JSON body; throws (400) when it is not a JSON object.
nlohmann::json parse_body(const std::string& body);

}  // namespace dlx::http
