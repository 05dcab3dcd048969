// libFuzzer target: HTTP request bodies (service/http/generation_request) as the three
// generation endpoints read them, through everything that runs on the HTTP thread before a job
// is queued: parse_body, parse_generation_input, resolve_prompt (tokenize or render the chat
// with the model's template), the decoding parameters against the model's config, validate
// and the memory admission check. The model is the LLaDA fixture (tokenizer + chat template).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/decode/generate.h"
#include "engine/engine.h"
#include "service/http/api_error.h"
#include "service/http/generation_request.h"
#include "service/http/template_request.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

const dlx::LoadedModel& model() {
  static const std::shared_ptr<const dlx::LoadedModel> lm = [] {
    dlx::Engine engine(dlx::EngineOptions{"cpu", 1});
    return engine.load(std::string(DLX_FIXTURES) + "/models/llada");
  }();
  return *lm;
}

void handle(dlx::Endpoint ep, const std::string& body) {
  const dlx::LoadedModel& lm = model();
  const dlx::ModelConfig& cfg = lm.model->config();
  try {
    const nlohmann::json j = dlx::http::parse_body(body);
    const dlx::http::GenerationInput in = dlx::http::parse_generation_input(ep, j);
    dlx::jinja::RenderLimits limits;
    limits.max_steps = 100'000;  // the service's budget is 1M: fewer keeps one input fast
    dlx::DecodeParams params = dlx::http::resolve_decode_params(cfg, in);
    std::vector<int32_t> ids;
    // Templates and infill as routes_generate.cpp resolves them; else the prompt.
    if (const auto t = dlx::http::request_template(in, params.gen_length)) {
      const dlx::http::TemplateJob job = dlx::http::resolve_template(lm, in, *t, params);
      params = dlx::canvas_params(*job.canvas, params);
      ids = job.canvas->prompt;
    } else {
      ids = dlx::http::resolve_prompt(lm, in, limits).ids;
    }
    const int len = static_cast<int>(ids.size());
    dlx::validate(params, cfg, len);
    dlx::check_generation_budget(cfg, len, params, uint64_t{1} << 30, "--max-request-memory");
    (void)dlx::to_json(params).dump();
  } catch (const dlx::http::ApiError&) {
    // a 4xx the handler sends as it is
  } catch (const nlohmann::json::exception&) {
    // request data of the wrong shape: api_error's translator answers 400 by design
  } catch (const dlx::Error& e) {
    dlx::fuzz::expected(e);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  for (auto ep :
       {dlx::Endpoint::kCompletions, dlx::Endpoint::kChat, dlx::Endpoint::kGenerate,
        dlx::Endpoint::kInfill, dlx::Endpoint::kOllamaGenerate, dlx::Endpoint::kOllamaChat}) {
    handle(ep, body);
  }
  return 0;
}
