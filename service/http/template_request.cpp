#include "service/http/template_request.h"

#include <set>

#include "engine/decode/generate.h"
#include "engine/decode/template_generate.h"
#include "engine/decode/template_text.h"
#include "service/http/api_error.h"
#include "service/http/json_fields.h"

namespace dlx::http {
namespace {

using nlohmann::json;

StreamMode native_stream(const json& s) {
  if (s.is_null() || (s.is_boolean() && !s.get<bool>())) return StreamMode::kNone;
  if ((s.is_boolean() && s.get<bool>()) || s == "append") return StreamMode::kAppend;
  if (s == "denoise") return StreamMode::kDenoise;
  throw bad_request("stream", "must be false, true (\"append\") or \"denoise\"");
}

}  // namespace

CanvasTemplate parse_template(const json& v) {
  return template_from_json(v);
}

GenerationInput parse_infill_input(const json& body) {
  static const std::set<std::string> kKeys = {
      "model",      "prefix",    "suffix", "max_tokens",
      "min_tokens", "diffusion", "stream", "add_special_tokens"};
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (!kKeys.count(it.key())) {
      throw bad_request(it.key(),
                        "unknown key (expected model, prefix, suffix, max_tokens, min_tokens, "
                        "diffusion, stream, add_special_tokens)");
    }
  }
  GenerationInput in;
  in.endpoint = Endpoint::kInfill;
  if (body.contains("model")) in.model = get_string(body["model"], "model");
  if (body.contains("diffusion") && !body["diffusion"].is_null()) {
    if (!body["diffusion"].is_object()) throw bad_request("diffusion", "must be a JSON object");
    in.diffusion = body["diffusion"];
  }
  in.prompt = body.contains("prefix") ? get_string(body["prefix"], "prefix") : std::string();
  if (!body.contains("suffix")) throw bad_request("suffix", "is required (it may be \"\")");
  in.suffix = get_string(body["suffix"], "suffix");
  if (!body.contains("max_tokens"))
    throw bad_request("max_tokens", "is required (the hole's size)");
  in.max_tokens = static_cast<int>(get_int(body["max_tokens"], "max_tokens", 1, kMaxHoleTokens));
  if (body.contains("min_tokens") && !body["min_tokens"].is_null()) {
    in.min_tokens = static_cast<int>(get_int(body["min_tokens"], "min_tokens", 0, *in.max_tokens));
  }
  if (body.contains("add_special_tokens")) {
    in.add_special_tokens = get_bool(body["add_special_tokens"], "add_special_tokens");
  }
  if (body.contains("stream")) in.stream = native_stream(body["stream"]);
  return in;
}

std::optional<CanvasTemplate> request_template(const GenerationInput& in, int default_max_tokens) {
  if (in.template_parts) return parse_template(*in.template_parts);
  if (!in.suffix) return std::nullopt;
  const int max_n = in.max_tokens.value_or(default_max_tokens);
  // /v1/infill: exact unless min_tokens says otherwise; OpenAI's suffix: like a completion,
  // the model may end the insertion early (at least one token).
  const int min_n =
      in.endpoint == Endpoint::kInfill ? in.min_tokens.value_or(max_n) : std::min(1, max_n);
  CanvasTemplate t;
  t.parts.push_back(CanvasPart::fixed(in.prompt.value_or("")));
  t.parts.push_back(CanvasPart::hole_range(min_n, max_n));
  if (!in.suffix->empty()) t.parts.push_back(CanvasPart::fixed(*in.suffix));
  return t;
}

TemplateJob resolve_template(const LoadedModel& lm, const GenerationInput& in,
                             const CanvasTemplate& t, const DecodeParams& params) {
  const std::string param = in.template_parts ? "template" : "prompt";
  if (!lm.tokenizer) {
    throw bad_request(param, "model '" + lm.name +
                                 "' has no tokenizer.json: templates and "
                                 "infill need one");
  }
  if (in.diffusion.contains("gen_length")) {
    throw bad_request("diffusion.gen_length", in.template_parts
                                                  ? "the template's holes decide the canvas length"
                                                  : "max_tokens is the hole's size");
  }
  const ModelConfig& cfg = lm.model->config();
  auto spec = std::make_shared<CanvasSpec>(
      tokenize_template(t, *lm.tokenizer, cfg, in.add_special_tokens, kMaxHoleTokens));
  validate_canvas(*spec, cfg, canvas_params(*spec, params));
  TemplateJob job;
  for (const CanvasPart& p : t.parts) {
    if (p.is_hole) break;
    job.prompt_text += p.text;
  }
  if (in.suffix) {
    const CanvasHole& h = spec->holes.front();
    job.text_trim = static_cast<int>(spec->region.size()) - (h.begin + h.length);
    job.log = {{"suffix", *in.suffix}, {"max_tokens", h.length}, {"min_tokens", h.min_tokens}};
  } else {
    job.log = {{"template", *in.template_parts}};
  }
  job.canvas = std::move(spec);
  return job;
}

}  // namespace dlx::http
