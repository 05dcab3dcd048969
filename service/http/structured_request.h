// Structured output in requests: OpenAI's `response_format` (/v1/chat/completions,
// /v1/completions), the native `schema` (/v1/generate) and Ollama's `format`, read into one
// parsed schema (engine/decode/json_schema.h). The schema is re-read from the raw body in
// declaration order (the generated object's key order). Every problem is a 400 naming the
// field and, for the schema, the part (a JSON pointer).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "engine/decode/canvas_spec.h"
#include "engine/decode/json_schema.h"
#include "service/http/generation_request.h"
#include "service/jobs/job.h"

namespace dlx::http {

struct StructuredOutput {
  std::shared_ptr<const SchemaNode> schema;
  std::string param;  // where the schema came from, for errors ("response_format", ...)
};

// Null when the request asks for plain text. `body` is `raw_body` parsed (keys sorted).
// {"type": "json_object"} (OpenAI) and "json" (Ollama) without a schema are a 400: a diffusion
// model fixes the object's keys before it decodes (README: Structured output).
std::optional<StructuredOutput> parse_structured_output(Endpoint endpoint,
                                                        const std::string& raw_body,
                                                        const nlohmann::json& body);

// The canvas of a structured request: the resolved prompt ids, then the schema's skeleton
// (engine/decode/json_schema_canvas.h). Throws 400 for a model without a tokenizer, stop
// strings (they would cut the document) and a max_tokens below the skeleton's length.
std::shared_ptr<const CanvasSpec> structured_canvas(const LoadedModel& lm,
                                                    const GenerationInput& in,
                                                    const StructuredOutput& so,
                                                    std::span<const int32_t> prompt,
                                                    const DecodeParams& params);

}  // namespace dlx::http
