// Ollama's /api/generate and /api/chat request bodies, read into the same GenerationInput the
// OpenAI and native routes produce: `options` (temperature, top_k, top_p, seed, num_predict,
// stop) map onto the decoding keys, any decoding key may also go in `options`, and fields we
// cannot honour are a 400 naming them rather than silently ignored.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "service/http/generation_request.h"

namespace dlx::http {

GenerationInput parse_ollama_input(Endpoint endpoint, const nlohmann::json& body);

// Ollama names models NAME:TAG; ours have no tags, so "NAME:latest" is NAME.
std::string ollama_model_name(const std::string& name);

// True for a body that only asks to load the model (no prompt / no messages): Ollama answers
// it at once with done_reason "load".
bool ollama_load_only(Endpoint endpoint, const nlohmann::json& body);

}  // namespace dlx::http
