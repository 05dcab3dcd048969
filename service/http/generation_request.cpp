#include "service/http/generation_request.h"

#include <cmath>
#include <set>

#include "engine/util/error.h"
#include "engine/util/json_parse.h"
#include "service/http/api_error.h"
#include "service/http/json_fields.h"
#include "service/http/ollama_request.h"
#include "service/http/openai_fields.h"
#include "service/http/template_request.h"

namespace dlx::http {
namespace {

using nlohmann::json;

void parse_openai_common(const json& body, GenerationInput& in) {
  check_openai_fields(in.endpoint, body);
  const char* max_key = in.endpoint == Endpoint::kChat && body.contains("max_completion_tokens")
                            ? "max_completion_tokens"
                            : "max_tokens";
  if (body.contains(max_key) && !body[max_key].is_null()) {
    in.max_tokens = static_cast<int>(get_int(body[max_key], max_key, 1, 1 << 20));
  }
  if (body.contains("temperature") && !body["temperature"].is_null()) {
    in.temperature = get_number(body["temperature"], "temperature");
    if (*in.temperature < 0) throw bad_request("temperature", "must be >= 0");
  }
  if (body.contains("top_p") && !body["top_p"].is_null()) {
    in.top_p = get_number(body["top_p"], "top_p");
    if (!(*in.top_p > 0 && *in.top_p <= 1)) throw bad_request("top_p", "must be in (0, 1]");
  }
  if (body.contains("top_k") && !body["top_k"].is_null()) {
    in.top_k = static_cast<int>(get_int(body["top_k"], "top_k", 0, INT32_MAX));
  }
  if (body.contains("min_p") && !body["min_p"].is_null()) {
    in.min_p = get_number(body["min_p"], "min_p");  // range checked with the decoding keys
  }
  if (body.contains("seed") && !body["seed"].is_null()) {
    in.seed = get_int(body["seed"], "seed", 0, INT64_MAX);
  }
  if (body.contains("stop")) in.stop = get_stop(body["stop"]);
  if (body.contains("stream") && !body["stream"].is_null() && get_bool(body["stream"], "stream")) {
    in.stream = StreamMode::kOpenAI;
  }
  if (body.contains("stream_options") && !body["stream_options"].is_null()) {
    const json& so = body["stream_options"];
    if (in.stream != StreamMode::kOpenAI) {
      throw bad_request("stream_options", "is only allowed with \"stream\": true");
    }
    if (!so.is_object()) throw bad_request("stream_options", "must be a JSON object");
    for (auto it = so.begin(); it != so.end(); ++it) {
      if (it.key() != "include_usage") {
        throw bad_request("stream_options." + it.key(), "unknown key (expected include_usage)");
      }
      in.include_usage = get_bool(it.value(), "stream_options.include_usage");
    }
  }
}

}  // namespace

json parse_body(const std::string& body) {
  // Depth/size capped: a deeply nested body is a 400, not a stack overflow.
  json j;
  try {
    j = parse_json_limited(body, "request body", ErrorCode::kInvalidArgument);
  } catch (const Error& e) {
    throw ApiError(400, "invalid_request_error", "invalid_json", e.what());
  }
  if (!j.is_object()) throw bad_request("", "the request body must be a JSON object");
  return j;
}

GenerationInput parse_generation_input(Endpoint endpoint, const json& body) {
  GenerationInput in;
  in.endpoint = endpoint;
  // Optional: without it the only loaded model serves the request (ModelRegistry::acquire).
  if (body.contains("model")) in.model = get_string(body["model"], "model");
  if (body.contains("diffusion") && !body["diffusion"].is_null()) {
    if (!body["diffusion"].is_object()) throw bad_request("diffusion", "must be a JSON object");
    in.diffusion = body["diffusion"];
  }

  switch (endpoint) {
    case Endpoint::kCompletions: {
      parse_openai_common(body, in);
      if (!body.contains("prompt")) throw bad_request("prompt", "is required");
      if (body.contains("suffix") && !body["suffix"].is_null()) {
        std::string suffix = get_string(body["suffix"], "suffix");
        if (!suffix.empty()) {  // an insertion: prompt + hole + suffix (README: Infill)
          if (!body["prompt"].is_string()) {
            throw bad_request("prompt", "must be a string with a suffix");
          }
          if (!in.stop.empty()) throw bad_request("stop", "is not supported with a suffix");
          in.suffix = std::move(suffix);
        }
      }
      const json& p = body["prompt"];
      if (p.is_string()) {
        in.prompt = p.get<std::string>();
      } else if (p.is_array() && p.size() == 1 && p[0].is_string()) {
        in.prompt = p[0].get<std::string>();
      } else if (p.is_array() && !p.empty() && p[0].is_number()) {
        in.prompt_ids = get_ids(p, "prompt");
      } else {
        throw bad_request("prompt",
                          "must be a string or an array of token ids (one prompt per request)");
      }
      break;
    }
    case Endpoint::kChat:
      parse_openai_common(body, in);
      if (!body.contains("messages")) throw bad_request("messages", "is required");
      in.messages = normalize_messages(body["messages"]);
      break;
    case Endpoint::kOllamaGenerate:
    case Endpoint::kOllamaChat:
      return parse_ollama_input(endpoint, body);
    case Endpoint::kInfill:
      return parse_infill_input(body);
    case Endpoint::kGenerate: {
      static const std::set<std::string> kKeys = {
          "model",  "prompt",    "prompt_ids",         "template",
          "stream", "diffusion", "add_special_tokens", "schema"};
      for (auto it = body.begin(); it != body.end(); ++it) {
        if (!kKeys.count(it.key())) {
          throw bad_request(it.key(),
                            "unknown key (expected model, prompt, prompt_ids or template, "
                            "diffusion, stream, add_special_tokens, schema)");
        }
      }
      const bool has_text = body.contains("prompt") && !body["prompt"].is_null();
      const bool has_ids = body.contains("prompt_ids") && !body["prompt_ids"].is_null();
      const bool has_template = body.contains("template") && !body["template"].is_null();
      if (has_template && (has_text || has_ids)) {
        throw bad_request(has_text ? "prompt" : "prompt_ids",
                          "give either template or a prompt, not both (the template's text "
                          "before its first hole is the prompt)");
      }
      if (has_template) {
        parse_template(body["template"]);  // 400 naming the part, before anything else
        in.template_parts = body["template"];
      } else if (has_text == has_ids) {
        throw bad_request("prompt", "give exactly one of prompt, prompt_ids and template");
      }
      if (has_text) in.prompt = get_string(body["prompt"], "prompt");
      if (has_ids) in.prompt_ids = get_ids(body["prompt_ids"], "prompt_ids");
      if (body.contains("add_special_tokens")) {
        in.add_special_tokens = get_bool(body["add_special_tokens"], "add_special_tokens");
      }
      if (body.contains("stream")) {
        const json& s = body["stream"];
        if (s.is_null() || (s.is_boolean() && !s.get<bool>())) {
          in.stream = StreamMode::kNone;
        } else if ((s.is_boolean() && s.get<bool>()) || s == "append") {
          in.stream = StreamMode::kAppend;
        } else if (s == "denoise") {
          in.stream = StreamMode::kDenoise;
        } else {
          throw bad_request("stream", "must be false, \"append\" or \"denoise\"");
        }
      }
      break;
    }
  }
  return in;
}

json decode_overrides(const GenerationInput& in) {
  json o = json::object();
  if (in.max_tokens) o["gen_length"] = *in.max_tokens;
  if (in.temperature) o["temperature"] = *in.temperature;
  if (in.top_p) o["top_p"] = *in.top_p;
  if (in.top_k) o["top_k"] = *in.top_k;
  if (in.min_p) o["min_p"] = *in.min_p;
  if (in.seed) o["seed"] = *in.seed;
  // OpenAI's finish_reason "stop" means the model ended its answer: end at the end token.
  if (in.endpoint != Endpoint::kGenerate) o["stop_at_eos"] = true;
  if (!in.diffusion.is_object()) throw bad_request("diffusion", "must be a JSON object");
  for (auto it = in.diffusion.begin(); it != in.diffusion.end(); ++it) o[it.key()] = it.value();
  return o;
}

DecodeParams resolve_decode_params(const ModelConfig& config, const GenerationInput& in) {
  return dlx::resolve_decode_params(config, decode_overrides(in));
}

ResolvedPrompt resolve_prompt(const LoadedModel& lm, const GenerationInput& in,
                              const jinja::RenderLimits& limits) {
  ResolvedPrompt out;
  const ModelConfig& cfg = lm.model->config();
  if (in.prompt_ids) {
    out.ids = *in.prompt_ids;
  } else {
    if (!lm.tokenizer) {
      throw bad_request(in.messages ? "messages" : "prompt",
                        "model '" + lm.name + "' has no tokenizer.json: send prompt_ids");
    }
    std::optional<json> messages = in.messages;
    if (!messages && in.template_prompt && !lm.tokenizer->config().chat_template.empty()) {
      messages = json::array();
      if (in.system && !in.system->empty()) {
        messages->push_back({{"role", "system"}, {"content", *in.system}});
      }
      messages->push_back({{"role", "user"}, {"content", *in.prompt}});
    }
    if (messages) {
      out.text = render_chat(*lm.tokenizer, *messages, /*add_generation_prompt=*/true,
                             nlohmann::json::object(), limits);
      out.ids = lm.tokenizer->encode(*out.text, /*add_special_tokens=*/false);
    } else {
      // A model without a chat template still sees Ollama's system prompt, before the prompt.
      const bool system = in.template_prompt && in.system && !in.system->empty();
      out.text = system ? *in.system + "\n\n" + *in.prompt : *in.prompt;
      out.ids = lm.tokenizer->encode(*out.text, in.add_special_tokens);
    }
  }
  const std::string param = in.prompt_ids
                                ? (in.endpoint == Endpoint::kGenerate ? "prompt_ids" : "prompt")
                                : (in.messages ? "messages" : "prompt");
  if (out.ids.empty()) throw bad_request(param, "the prompt has no tokens");
  for (int32_t id : out.ids) {
    if (id < 0 || id >= cfg.vocab) {
      throw bad_request(param, "token id " + std::to_string(id) + " is outside the vocabulary (" +
                                   std::to_string(cfg.vocab) + " tokens)");
    }
  }
  return out;
}

}  // namespace dlx::http
