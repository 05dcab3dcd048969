#include "service/cli/schema_run.h"

#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "engine/decode/json_schema_canvas.h"
#include "engine/decode/json_schema_template.h"
#include "engine/decode/json_token_classes.h"
#include "engine/decode/text_streamer.h"
#include "engine/util/error.h"
#include "engine/util/json_parse.h"
#include "service/cli/decode_flags.h"
#include "service/cli/model_loader.h"

namespace dlx::cli {

int run_schema(const Args& a) {
  const std::string path = a.str("schema");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("--schema: cannot read " + path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Declaration order: the generated object's keys follow the file.
  const SchemaNode schema = parse_json_schema(
      parse_ordered_json_limited(text, "--schema " + path, ErrorCode::kInvalidArgument),
      "--schema");

  if (a.has("prompt-ids") == a.has("prompt")) {
    throw UsageError("--schema: give exactly one of --prompt-ids or --prompt");
  }
  if (a.flag("chat") && !a.has("prompt")) throw UsageError("--chat needs --prompt TEXT");
  const TextOverrides overrides = decode_overrides(a);
  for (const auto& [key, value] : overrides) {
    if (key == "gen_length") throw UsageError("--gen-length: the schema decides the length");
  }
  Engine engine = engine_from_args(a);
  const auto lm = load_model_from_args(engine, a, /*need_tokenizer=*/true);
  const Model& model = *lm->model;
  const ModelConfig& cfg = model.config();
  const Tokenizer& tok = *lm->tokenizer;
  std::vector<int32_t> prompt;
  if (a.has("prompt-ids")) {
    prompt = parse_ids("prompt-ids", a.required("prompt-ids"));
  } else if (a.flag("chat")) {
    // The chat-rendered prompt comes first; the skeleton is the assistant's reply.
    const nlohmann::json messages =
        nlohmann::json::array({{{"role", "user"}, {"content", a.str("prompt")}}});
    prompt = tok.encode(render_chat(tok, messages, true), false);
  } else {
    prompt = tok.encode(a.str("prompt"), true);
  }

  const auto classes = json_token_classes(lm->tokenizer, cfg.vocab, cfg.eos_ids);
  const CanvasTemplate skeleton = compile_schema_template(schema, tok, classes);
  DecodeParams params = resolve_decode_params(cfg, overrides);
  const CanvasSpec spec = schema_canvas(prompt, skeleton, tok, cfg, params, "--schema");
  params = canvas_params(spec, params);

  const bool json = a.flag("json");
  TextStreamer streamer(tok, cfg);
  GenerateOptions go;
  go.on_step = [&](const StepEvent& e) {
    if (!json) std::cout << streamer.update(e.text_canvas) << std::flush;
  };
  GenerateResult g = generate(model, spec, params, go);
  const TemplateResult r = template_result(spec, std::move(g), tok, cfg);
  const nlohmann::ordered_json value = check_structured_output(r.text, schema);
  if (json) {
    nlohmann::ordered_json j = {
        {"text", r.text},
        {"value", value},
        {"forward_calls", r.gen.forward_calls},
        {"prompt_tokens", prompt.size()},
        {"canvas_tokens", spec.region.size()},
        {"params", to_json(params)},
        {"timings", {{"load_ms", lm->load_ms}, {"total_ms", r.gen.total_ms}}}};
    std::cout << j.dump() << "\n";
  } else {
    // The streamed text is the document as positions became final left to right; whatever
    // was held back (a value still open at the last step) completes it here.
    const std::string rest =
        streamer.finish(r.gen.text_ids.empty() ? r.gen.output_ids : r.gen.text_ids);
    std::cout << rest << "\n";
    std::fprintf(stderr, "%d forward calls, %.1f ms, %zu canvas tokens\n", r.gen.forward_calls,
                 r.gen.total_ms, spec.region.size());
  }
  return 0;
}

}  // namespace dlx::cli
