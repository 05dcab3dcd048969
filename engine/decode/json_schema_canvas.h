// Structured generation end to end in the engine: a prompt and a compiled skeleton
// (json_schema_template.h) laid out as a CanvasSpec (canvas_spec.h), run by the one loop, and
// the result checked against the schema. The HTTP service and the CLI both go through here.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>

#include "engine/decode/canvas_spec.h"
#include "engine/decode/generate.h"
#include "engine/decode/json_schema.h"
#include "engine/decode/template_generate.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"

namespace dlx {

// The canvas: `prompt` (ids as given), then the whole skeleton in the region, so the region's
// text is the JSON document. Block-causal families see text after a hole only inside the
// hole's block: a hole whose following text would cross into a later block is padded with
// end-token positions up to the block boundary (its constraint keeps them end tokens), so
// that text starts a new block and follows the value left to right. `params` is the request's
// decoding (its block_length decides the padding). Throws Error kInvalidArgument (`param`)
// when the skeleton has no value to generate (only const / null).
CanvasSpec schema_canvas(std::span<const int32_t> prompt, const CanvasTemplate& skeleton,
                         const Tokenizer& tok, const ModelConfig& config,
                         const DecodeParams& params, const std::string& param);

struct StructuredResult {
  TemplateResult result;         // result.text: the JSON document
  nlohmann::ordered_json value;  // result.text parsed (it validated against the schema)
};

// Parses nothing: `schema` is parsed already. Compiles, lays out, generates and checks.
// Throws as generate() does, and Error kInternal if the output fails to validate (a bug).
StructuredResult generate_structured(const Model& model,
                                     const std::shared_ptr<const Tokenizer>& tok,
                                     std::span<const int32_t> prompt, const SchemaNode& schema,
                                     const DecodeParams& params,
                                     const GenerateOptions& options = {},
                                     const std::string& param = "schema");

}  // namespace dlx
