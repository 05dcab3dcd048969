#include "engine/decode/template_generate.h"

#include "engine/util/error.h"

namespace dlx {

CanvasSpec tokenize_template(const CanvasTemplate& t, const Tokenizer& tok,
                             const ModelConfig& config, bool prompt_special_tokens, int max_hole) {
  CanvasSpec s;
  std::string prompt_text;
  size_t i = 0;
  for (; i < t.parts.size() && !t.parts[i].is_hole; ++i) prompt_text += t.parts[i].text;
  if (i == t.parts.size()) throw_invalid_argument("template", "needs at least one hole");
  s.prompt = tok.encode(prompt_text, prompt_special_tokens);
  if (s.prompt.empty()) {
    const int32_t bos = tok.config().bos_token_id;
    if (bos < 0) {
      throw_invalid_argument("template",
                             "must start with text (the model has no BOS token to start from)");
    }
    s.prompt.push_back(bos);
  }
  for (; i < t.parts.size(); ++i) {
    const CanvasPart& part = t.parts[i];
    const std::string param = "template[" + std::to_string(i) + "]";
    if (!part.is_hole) {
      const std::vector<int32_t> ids = tok.encode(part.text, false);
      s.region.insert(s.region.end(), ids.begin(), ids.end());
      continue;
    }
    if (part.max_tokens < 1 || part.max_tokens > max_hole) {
      throw_invalid_argument(param + ".hole",
                             "a hole holds 1 to " + std::to_string(max_hole) + " tokens");
    }
    if (part.min_tokens < 0 || part.min_tokens > part.max_tokens) {
      throw_invalid_argument(param + ".hole", "min must lie in 0..max");
    }
    CanvasHole h;
    h.begin = static_cast<int>(s.region.size());
    h.length = part.max_tokens;
    h.min_tokens = part.min_tokens;
    h.constraint = part.constraint;
    h.part = static_cast<int>(i);
    h.name = part.name;
    s.region.insert(s.region.end(), static_cast<size_t>(h.length), config.mask_id);
    s.holes.push_back(std::move(h));
  }
  return s;
}

TemplateResult template_result(const CanvasSpec& spec, GenerateResult gen, const Tokenizer& tok,
                               const ModelConfig& config) {
  TemplateResult r;
  r.holes = hole_contents(spec, gen.output_ids, config);
  for (const auto& ids : r.holes) r.hole_texts.push_back(tok.decode(ids, true));
  // Fixed text between holes decoded alone (as it was encoded), then each hole's text.
  int q = 0;
  const int n = static_cast<int>(gen.output_ids.size());
  auto fixed_text = [&](int end) {
    end = std::min(end, n);
    if (end > q) {
      r.text += tok.decode(std::span<const int32_t>(gen.output_ids).subspan(q, end - q), true);
    }
  };
  for (size_t i = 0; i < spec.holes.size(); ++i) {
    fixed_text(spec.holes[i].begin);
    r.text += r.hole_texts[i];
    q = spec.holes[i].begin + spec.holes[i].length;
  }
  fixed_text(static_cast<int>(spec.region.size()));
  r.gen = std::move(gen);
  return r;
}

TemplateResult generate_template(const Model& model, const Tokenizer& tok, const CanvasTemplate& t,
                                 const DecodeParams& params, const GenerateOptions& options,
                                 bool prompt_special_tokens) {
  const CanvasSpec spec = tokenize_template(t, tok, model.config(), prompt_special_tokens);
  GenerateResult g = generate(model, spec, params, options);
  return template_result(spec, std::move(g), tok, model.config());
}

}  // namespace dlx
