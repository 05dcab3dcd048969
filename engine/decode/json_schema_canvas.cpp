#include "engine/decode/json_schema_canvas.h"

#include "engine/decode/json_schema_template.h"
#include "engine/decode/json_token_classes.h"
#include "engine/util/error.h"

namespace dlx {

CanvasSpec schema_canvas(std::span<const int32_t> prompt, const CanvasTemplate& skeleton,
                         const Tokenizer& tok, const ModelConfig& config,
                         const DecodeParams& params, const std::string& param) {
  CanvasSpec s;
  s.prompt.assign(prompt.begin(), prompt.end());
  const int P = static_cast<int>(s.prompt.size());
  const bool block_causal = config.spec && config.spec->attention == AttentionKind::kBlockCausal;
  const int B = params.block_length;  // 0: one block over the canvas, nothing to pad
  const int first = config.spec && config.spec->block_aligned && B > 0 ? P / B * B : P;
  // The fixed ids of every part (holes: none), to know where a hole's following text ends.
  std::vector<std::vector<int32_t>> fixed(skeleton.parts.size());
  for (size_t i = 0; i < skeleton.parts.size(); ++i) {
    if (!skeleton.parts[i].is_hole) fixed[i] = tok.encode(skeleton.parts[i].text, false);
  }
  for (size_t i = 0; i < skeleton.parts.size(); ++i) {
    const CanvasPart& part = skeleton.parts[i];
    if (!part.is_hole) {
      s.region.insert(s.region.end(), fixed[i].begin(), fixed[i].end());
      continue;
    }
    CanvasHole h;
    h.begin = static_cast<int>(s.region.size());
    h.length = part.max_tokens;
    h.min_tokens = part.min_tokens;
    h.constraint = part.constraint;
    h.part = static_cast<int>(i);
    h.name = part.name;
    size_t text_len = 0;  // fixed tokens after the hole, up to the next hole
    for (size_t j = i + 1; j < skeleton.parts.size() && !skeleton.parts[j].is_hole; ++j) {
      text_len += fixed[j].size();
    }
    if (block_causal && B > 0 && text_len > 0) {
      const int end = P + h.begin + h.length - first;  // canvas offset after the hole
      const bool seen = (end - 1) / B == (end - 1 + static_cast<int>(text_len)) / B;
      if (!seen) h.length += (B - end % B) % B;
    }
    s.region.insert(s.region.end(), static_cast<size_t>(h.length), config.mask_id);
    s.holes.push_back(std::move(h));
  }
  if (s.holes.empty()) {
    throw_invalid_argument(param,
                           "the schema fixes every value (only const / null): nothing to "
                           "generate");
  }
  return s;
}

StructuredResult generate_structured(const Model& model,
                                     const std::shared_ptr<const Tokenizer>& tok,
                                     std::span<const int32_t> prompt, const SchemaNode& schema,
                                     const DecodeParams& params, const GenerateOptions& options,
                                     const std::string& param) {
  const ModelConfig& cfg = model.config();
  const auto classes = json_token_classes(tok, cfg.vocab, cfg.eos_ids);
  const CanvasTemplate skeleton = compile_schema_template(schema, *tok, classes);
  const CanvasSpec spec = schema_canvas(prompt, skeleton, *tok, cfg, params, param);
  GenerateResult g = generate(model, spec, params, options);
  StructuredResult r;
  r.result = template_result(spec, std::move(g), *tok, cfg);
  r.value = check_structured_output(r.result.text, schema);
  return r;
}

}  // namespace dlx
