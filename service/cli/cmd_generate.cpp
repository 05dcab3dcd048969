// `diffulex generate`: one generation with the decoding parameters of DECODING.md as flags.
// Text prompts stream their output as tokens become final; --json prints one result object.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "engine/decode/generate.h"
#include "engine/decode/text_streamer.h"
#include "engine/util/error.h"
#include "service/cli/args.h"
#include "service/cli/commands.h"
#include "service/cli/decode_flags.h"
#include "service/cli/model_loader.h"
#include "service/cli/schema_run.h"
#include "service/cli/template_run.h"

namespace dlx::cli {

int cmd_generate(int argc, char** argv, int first) {
  std::set<std::string> options = model_options();
  options.insert(decode_flag_options().begin(), decode_flag_options().end());
  options.insert({"prompt-ids", "prompt", "template", "schema"});
  Args a(argc, argv, first, options, {"help", "json", "trace", "chat"});
  if (a.flag("help")) {
    std::cout << "usage: diffulex generate [--model DIR] [--weights FILE] (--prompt-ids 1,2,3 | "
                 "--prompt TEXT [--chat] | --template FILE)\n"
                 "       [--device auto|cpu|opencl[:N]] [--threads N] [--json] [--trace] "
                 "[--KEY VALUE ...]\n"
                 "Without --model: the bundled demo model ($DIFFULEX_MODEL overrides it).\n"
                 "--template FILE: fixed text and holes, a JSON array ([{\"text\": ...}, "
                 "{\"hole\": 12}]) or text with [___] / [___:N] / [___:A-B] holes (README: "
                 "Infill); prints the text after the prompt.\n"
                 "--schema FILE: structured output, a JSON document valid against the JSON "
                 "Schema in FILE (README: Structured output).\n"
                 "decoding keys (README: Decoding):";
    std::cout << decode_flags_help();
    std::cout << "\n";
    return 0;
  }
  if (a.has("template") && a.has("schema")) {
    throw UsageError("--schema: give either --schema or --template (the schema is the template)");
  }
  if (a.has("template")) {
    if (a.has("prompt-ids") || a.has("prompt") || a.flag("chat")) {
      throw UsageError(
          "--template: give either --template or a prompt, not both (the text "
          "before its first hole is the prompt)");
    }
    return run_template(a, read_template_file(a.str("template")), /*text_from_middle=*/false);
  }
  if (a.has("schema")) return run_schema(a);
  if (a.has("prompt-ids") == a.has("prompt")) {
    throw UsageError("give exactly one of --prompt-ids, --prompt or --template");
  }
  if (a.flag("chat") && !a.has("prompt")) throw UsageError("--chat needs --prompt TEXT");
  const bool text_mode = a.has("prompt");
  std::vector<int32_t> prompt;
  if (!text_mode) prompt = parse_ids("prompt-ids", a.required("prompt-ids"));

  Engine engine = engine_from_args(a);
  const auto lm = load_model_from_args(engine, a, text_mode);
  const Model& model = *lm->model;
  DecodeParams params = resolve_decode_params(model.config(), decode_overrides(a));
  if (text_mode) {
    const std::string text = a.str("prompt");
    if (text.empty()) throw UsageError("--prompt: the prompt is empty");
    if (a.flag("chat")) {
      nlohmann::json messages = nlohmann::json::array({{{"role", "user"}, {"content", text}}});
      prompt = lm->tokenizer->encode(render_chat(*lm->tokenizer, messages, true), false);
    } else {
      prompt = lm->tokenizer->encode(text, true);
    }
  }

  const bool json = a.flag("json");
  const bool stream = text_mode && !json;
  nlohmann::json steps = nlohmann::json::array();
  std::unique_ptr<TextStreamer> streamer;
  if (stream) streamer = std::make_unique<TextStreamer>(*lm->tokenizer, model.config());
  GenerateOptions go;
  go.on_step = [&](const StepEvent& e) {
    if (a.flag("trace")) steps.push_back(to_json(e, lm->tokenizer.get()));
    if (streamer) {
      std::cout << streamer->update(e.canvas) << std::flush;
    }
  };
  GenerateResult r = generate(model, prompt, params, go);

  if (json) {
    nlohmann::json j = {
        {"output_ids", r.output_ids},
        {"answer_tokens", r.answer_tokens},
        {"forward_calls", r.forward_calls},
        {"forward_tokens", r.forward_tokens},
        {"finish_reason", finish_reason_name(r.finish_reason)},
        {"prompt_tokens", prompt.size()},
        {"params", to_json(params)},
        {"timings", {{"load_ms", lm->load_ms}, {"total_ms", r.total_ms}, {"step_ms", r.step_ms}}}};
    if (lm->tokenizer) {
      TextStreamer s(*lm->tokenizer, model.config());
      j["text"] = s.finish(r.output_ids);
    }
    if (a.flag("trace")) j["steps"] = steps;
    std::cout << j.dump() << "\n";
  } else if (stream) {
    std::cout << streamer->finish(r.output_ids) << "\n";
  } else {
    for (size_t i = 0; i < r.output_ids.size(); ++i) std::cout << (i ? "," : "") << r.output_ids[i];
    std::cout << "\n";
  }
  if (!json) {
    const double secs = r.total_ms / 1000.0;
    std::fprintf(stderr,
                 "%zu tokens, %d forward calls (%.2f tokens/forward), %.1f ms, %.1f tokens/s, "
                 "finish: %s, preset %s\n",
                 static_cast<size_t>(r.answer_tokens), r.forward_calls,
                 r.forward_calls ? double(r.answer_tokens) / r.forward_calls : 0.0, r.total_ms,
                 secs > 0 ? r.answer_tokens / secs : 0.0, finish_reason_name(r.finish_reason),
                 to_string(params.preset));
  }
  return 0;
}

}  // namespace dlx::cli
