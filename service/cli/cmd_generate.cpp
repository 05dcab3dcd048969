// `diffulex generate`: one generation with the decoding parameters of DECODING.md as flags.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "engine/decode/generate.h"
#include "engine/model/model.h"
#include "engine/util/error.h"
#include "service/cli/args.h"
#include "service/cli/commands.h"

namespace dlx::cli {
namespace {

// --gen-length -> gen_length
std::string flag_to_key(const std::string& flag) {
  std::string k = flag;
  for (char& ch : k) {
    if (ch == '-') ch = '_';
  }
  return k;
}

std::set<std::string> decode_flags() {
  std::set<std::string> out;
  for (const auto& k : decode_param_keys()) {
    std::string f = k;
    for (char& ch : f) {
      if (ch == '_') ch = '-';
    }
    out.insert(f);
  }
  return out;
}

nlohmann::json step_json(const StepEvent& e) {
  return {{"step", e.step},           {"block", e.block},
          {"positions", e.positions}, {"tokens", e.tokens},
          {"confidences", e.confidences}, {"masks_remaining", e.masks_remaining},
          {"span_tokens", e.span_tokens}, {"forward_ms", e.forward_ms}};
}

}  // namespace

int cmd_generate(int argc, char** argv, int first) {
  std::set<std::string> options = decode_flags();
  for (const char* o : {"model", "weights", "prompt-ids", "threads"}) options.insert(o);
  Args a(argc, argv, first, options, {"help", "json", "trace"});
  if (a.flag("help")) {
    std::cout << "usage: diffulex generate --model DIR [--weights FILE] --prompt-ids 1,2,3\n"
                 "       [--threads N] [--json] [--trace] [--KEY VALUE ...]\n"
                 "decoding keys (DECODING.md):";
    for (const auto& k : decode_param_keys()) std::cout << " --" << k;
    std::cout << "\n";
    return 0;
  }
  const std::string dir = a.required("model");
  const auto prompt = parse_ids("prompt-ids", a.required("prompt-ids"));
  const int64_t threads = a.integer("threads", 0);
  if (threads < 0) throw UsageError("--threads must be >= 0 (0 = all cores)");

  const auto t_load = std::chrono::steady_clock::now();
  LoadOptions lo;
  lo.weights = a.str("weights");
  auto model = Model::load(dir, make_cpu_backend(static_cast<int>(threads)), lo);
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_load).count();

  DecodeParams params = default_decode_params(model->config());
  for (const auto& [flag, value] : a.ordered()) {
    if (options.count(flag) && decode_flags().count(flag)) set_param(params, flag_to_key(flag), value);
  }
  nlohmann::json steps = nlohmann::json::array();
  GenerateOptions go;
  if (a.flag("trace")) go.on_step = [&](const StepEvent& e) { steps.push_back(step_json(e)); };
  GenerateResult r = generate(*model, prompt, params, go);

  if (a.flag("json")) {
    nlohmann::json j = {{"output_ids", r.output_ids},
                        {"forward_calls", r.forward_calls},
                        {"forward_tokens", r.forward_tokens},
                        {"finish_reason", r.finish_reason},
                        {"params", to_json(params)},
                        {"timings", {{"load_ms", load_ms}, {"total_ms", r.total_ms}, {"step_ms", r.step_ms}}}};
    if (a.flag("trace")) j["steps"] = steps;
    std::cout << j.dump() << "\n";
  } else {
    for (size_t i = 0; i < r.output_ids.size(); ++i) std::cout << (i ? "," : "") << r.output_ids[i];
    std::cout << "\n";
    std::fprintf(stderr, "%zu tokens, %d forward calls, %.1f ms, finish: %s\n", r.output_ids.size(),
                 r.forward_calls, r.total_ms, r.finish_reason.c_str());
  }
  return 0;
}

}  // namespace dlx::cli
