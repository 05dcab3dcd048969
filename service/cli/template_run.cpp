#include "service/cli/template_run.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/decode/template_generate.h"
#include "engine/decode/template_text.h"
#include "engine/decode/text_streamer.h"
#include "engine/util/error.h"
#include "engine/util/json_parse.h"
#include "service/cli/decode_flags.h"
#include "service/cli/model_loader.h"

namespace dlx::cli {

CanvasTemplate read_template_file(const std::string& path) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw UsageError("--template: cannot read " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '[' &&
      (first + 1 >= text.size() || text[first + 1] != '_')) {
    return template_from_json(parse_json_limited(text, "--template", ErrorCode::kInvalidArgument));
  }
  return template_from_markers(text);
}

int run_template(const Args& a, const CanvasTemplate& t, bool text_from_middle) {
  Engine engine = engine_from_args(a);
  const auto lm = load_model_from_args(engine, a, /*need_tokenizer=*/true);
  const Model& model = *lm->model;
  const ModelConfig& cfg = model.config();
  const TextOverrides overrides = decode_overrides(a);
  for (const auto& [key, value] : overrides) {
    if (key == "gen_length") {
      throw UsageError(text_from_middle ? "--gen-length: --length is the hole's size"
                                        : "--gen-length: the template's holes decide the length");
    }
  }
  const CanvasSpec spec = tokenize_template(t, *lm->tokenizer, cfg, true, kMaxHoleTokens);
  const DecodeParams params = canvas_params(spec, resolve_decode_params(cfg, overrides));
  // Infill's answer is its middle: the suffix's tokens at the region's end are left out.
  const size_t trim =
      text_from_middle ? spec.region.size() - (spec.holes[0].begin + spec.holes[0].length) : 0;
  auto text_view = [&](std::span<const int32_t> ids) {
    return ids.first(ids.size() - std::min(trim, ids.size()));
  };

  const bool json = a.flag("json");
  TextStreamer streamer(*lm->tokenizer, cfg);
  nlohmann::json steps = nlohmann::json::array();
  GenerateOptions go;
  go.on_step = [&](const StepEvent& e) {
    if (a.flag("trace")) steps.push_back(to_json(e, lm->tokenizer.get()));
    const std::string piece = streamer.update(text_view(e.text_canvas));
    if (!json) std::cout << piece << std::flush;
  };
  GenerateResult g = generate(model, spec, params, go);
  const std::vector<int32_t> text_ids = g.text_ids.empty() ? g.output_ids : g.text_ids;
  const std::string rest = streamer.finish(text_view(text_ids));
  const TemplateResult r = template_result(spec, std::move(g), *lm->tokenizer, cfg);
  int hole_tokens = 0;
  for (const auto& h : r.holes) hole_tokens += static_cast<int>(h.size());
  if (json) {
    nlohmann::json holes = nlohmann::json::array();
    for (size_t i = 0; i < r.holes.size(); ++i) {
      nlohmann::json h = {{"ids", r.holes[i]}, {"text", r.hole_texts[i]}};
      if (!spec.holes[i].name.empty()) h["name"] = spec.holes[i].name;
      holes.push_back(std::move(h));
    }
    // The text as streamed (the HTTP answer's "text"): the region less the infill's suffix.
    TextStreamer whole(*lm->tokenizer, cfg);
    nlohmann::json j = {{"text", whole.finish(text_view(text_ids))},
                        {"holes", holes},
                        {"output_ids", r.gen.output_ids},
                        {"answer_tokens", hole_tokens},
                        {"forward_calls", r.gen.forward_calls},
                        {"forward_tokens", r.gen.forward_tokens},
                        {"finish_reason", finish_reason_name(r.gen.finish_reason)},
                        {"prompt_tokens", spec.prompt.size()},
                        {"params", to_json(params)},
                        {"timings", {{"load_ms", lm->load_ms}, {"total_ms", r.gen.total_ms}}}};
    if (a.flag("trace")) j["steps"] = steps;
    std::cout << j.dump() << "\n";
  } else {
    std::cout << rest << "\n";
    std::fprintf(stderr, "%d hole tokens, %d forward calls, %.1f ms, finish: %s\n", hole_tokens,
                 r.gen.forward_calls, r.gen.total_ms, finish_reason_name(r.gen.finish_reason));
  }
  return 0;
}

}  // namespace dlx::cli
