#include "service/http/structured_request.h"

#include "engine/decode/json_schema_canvas.h"
#include "engine/decode/json_schema_template.h"
#include "engine/decode/json_token_classes.h"
#include "engine/util/json_parse.h"
#include "service/http/api_error.h"

namespace dlx::http {
namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

const char* kNeedsSchema =
    "JSON mode without a schema is not supported: a diffusion model fixes the object's keys "
    "before it decodes. Send a schema";

// The schema at `path` of the body, in declaration order.
ojson ordered_at(const std::string& raw_body, const std::vector<std::string>& path) {
  ojson v = parse_ordered_json_limited(raw_body, "request body", ErrorCode::kInvalidArgument);
  for (const std::string& k : path) {
    ojson next = std::move(v[k]);
    v = std::move(next);
  }
  return v;
}

StructuredOutput parse_at(const std::string& raw_body, const std::vector<std::string>& path,
                          const std::string& param) {
  StructuredOutput s;
  s.param = param;
  s.schema =
      std::make_shared<const SchemaNode>(parse_json_schema(ordered_at(raw_body, path), param));
  return s;
}

std::optional<StructuredOutput> openai(const std::string& raw_body, const json& body) {
  if (!body.contains("response_format") || body["response_format"].is_null()) return std::nullopt;
  const json& rf = body["response_format"];
  if (!rf.is_object() || !rf.contains("type") || !rf["type"].is_string()) {
    throw bad_request("response_format", "must be an object with a \"type\"");
  }
  const std::string type = rf["type"].get<std::string>();
  if (type == "text") return std::nullopt;
  if (type == "json_object") {
    throw bad_request("response_format",
                      std::string(kNeedsSchema) +
                          ": {\"type\": \"json_schema\", \"json_schema\": {\"name\": ..., "
                          "\"schema\": {...}}}");
  }
  if (type != "json_schema") {
    throw bad_request("response_format.type",
                      "must be \"text\", \"json_schema\" or \"json_object\"");
  }
  for (auto it = rf.begin(); it != rf.end(); ++it) {
    if (it.key() != "type" && it.key() != "json_schema") {
      throw bad_request("response_format." + it.key(), "unknown key (expected type, json_schema)");
    }
  }
  if (!rf.contains("json_schema") || !rf["json_schema"].is_object()) {
    throw bad_request("response_format.json_schema", "is required (an object with a schema)");
  }
  const json& js = rf["json_schema"];
  for (auto it = js.begin(); it != js.end(); ++it) {
    const std::string& k = it.key();
    if (k != "name" && k != "schema" && k != "strict" && k != "description") {
      throw bad_request("response_format.json_schema." + k,
                        "unknown key (expected name, description, schema, strict)");
    }
  }
  if (js.contains("name") && !js["name"].is_string()) {
    throw bad_request("response_format.json_schema.name", "must be a string");
  }
  // strict: the constraints always hold, so both values give schema-valid output.
  if (js.contains("strict") && !js["strict"].is_null() && !js["strict"].is_boolean()) {
    throw bad_request("response_format.json_schema.strict", "must be a boolean");
  }
  if (!js.contains("schema") || js["schema"].is_null()) {
    throw bad_request("response_format.json_schema.schema", "is required");
  }
  return parse_at(raw_body, {"response_format", "json_schema", "schema"},
                  "response_format.json_schema.schema");
}

std::optional<StructuredOutput> native(const std::string& raw_body, const json& body) {
  if (!body.contains("schema") || body["schema"].is_null()) return std::nullopt;
  return parse_at(raw_body, {"schema"}, "schema");
}

std::optional<StructuredOutput> ollama(const std::string& raw_body, const json& body) {
  if (!body.contains("format")) return std::nullopt;
  const json& f = body["format"];
  if (f.is_null() || (f.is_string() && f.get<std::string>().empty())) return std::nullopt;
  if (f == "json") {
    throw bad_request("format", std::string(kNeedsSchema) + " as \"format\": {...}");
  }
  if (!f.is_object()) throw bad_request("format", "must be \"json\" or a JSON schema object");
  return parse_at(raw_body, {"format"}, "format");
}

}  // namespace

std::optional<StructuredOutput> parse_structured_output(Endpoint endpoint,
                                                        const std::string& raw_body,
                                                        const json& body) {
  switch (endpoint) {
    case Endpoint::kCompletions:
    case Endpoint::kChat:
      return openai(raw_body, body);
    case Endpoint::kGenerate:
      return native(raw_body, body);
    case Endpoint::kInfill:  // its body has no schema field (template_request.cpp)
      return std::nullopt;
    case Endpoint::kOllamaGenerate:
    case Endpoint::kOllamaChat:
      return ollama(raw_body, body);
  }
  return std::nullopt;
}

std::shared_ptr<const CanvasSpec> structured_canvas(const LoadedModel& lm,
                                                    const GenerationInput& in,
                                                    const StructuredOutput& so,
                                                    std::span<const int32_t> prompt,
                                                    const DecodeParams& params) {
  if (!lm.tokenizer) {
    throw bad_request(so.param, "structured output needs the model's tokenizer (model '" + lm.name +
                                    "' has no tokenizer.json)");
  }
  if (!in.stop.empty()) {
    throw bad_request("stop",
                      "stop strings cannot be combined with structured output (they "
                      "would cut the JSON document)");
  }
  const ModelConfig& cfg = lm.model->config();
  const auto classes = json_token_classes(lm.tokenizer, cfg.vocab, cfg.eos_ids);
  const CanvasTemplate skeleton = compile_schema_template(*so.schema, *lm.tokenizer, classes);
  auto spec = std::make_shared<const CanvasSpec>(
      schema_canvas(prompt, skeleton, *lm.tokenizer, cfg, params, so.param));
  if (in.max_tokens && static_cast<size_t>(*in.max_tokens) < spec->region.size()) {
    throw bad_request("max_tokens", "the schema's skeleton and value holes take " +
                                        std::to_string(spec->region.size()) +
                                        " tokens; raise max_tokens or leave it out");
  }
  return spec;
}

}  // namespace dlx::http
