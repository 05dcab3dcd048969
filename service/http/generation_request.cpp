#include "service/http/generation_request.h"

#include <cmath>
#include <set>

#include "engine/util/error.h"
#include "engine/util/json_parse.h"
#include "service/http/api_error.h"
#include "service/http/openai_fields.h"

namespace dlx::http {
namespace {

using nlohmann::json;

int64_t get_int(const json& v, const std::string& param, int64_t lo, int64_t hi) {
  int64_t x = 0;
  if (v.is_number_integer()) {
    x = v.get<int64_t>();
  } else if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(hi)) throw bad_request(param, "is too large");
    x = static_cast<int64_t>(u);
  } else if (v.is_number_float() && std::isfinite(v.get<double>()) &&
             std::floor(v.get<double>()) == v.get<double>() && std::fabs(v.get<double>()) < 1e15) {
    x = static_cast<int64_t>(v.get<double>());
  } else {
    throw bad_request(param, "must be an integer");
  }
  if (x < lo || x > hi) {
    throw bad_request(param,
                      "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  }
  return x;
}

double get_number(const json& v, const std::string& param) {
  if (!v.is_number() || !std::isfinite(v.get<double>()))
    throw bad_request(param, "must be a number");
  return v.get<double>();
}

bool get_bool(const json& v, const std::string& param) {
  if (!v.is_boolean()) throw bad_request(param, "must be true or false");
  return v.get<bool>();
}

std::string get_string(const json& v, const std::string& param) {
  if (!v.is_string()) throw bad_request(param, "must be a string");
  return v.get<std::string>();
}

std::vector<int32_t> get_ids(const json& v, const std::string& param) {
  if (!v.is_array()) throw bad_request(param, "must be an array of token ids");
  std::vector<int32_t> ids;
  ids.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    ids.push_back(
        static_cast<int32_t>(get_int(v[i], param + "[" + std::to_string(i) + "]", 0, INT32_MAX)));
  }
  return ids;
}

// OpenAI `stop`: a string or up to 4 strings.
std::vector<std::string> get_stop(const json& v) {
  std::vector<std::string> out;
  if (v.is_null()) return out;
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
  } else if (v.is_array()) {
    if (v.size() > 4) throw bad_request("stop", "at most 4 stop strings");
    for (const auto& s : v) out.push_back(get_string(s, "stop"));
  } else {
    throw bad_request("stop", "must be a string or an array of strings");
  }
  for (const auto& s : out) {
    if (s.empty()) throw bad_request("stop", "stop strings must not be empty");
  }
  return out;
}

// Chat message content: a string, null, or OpenAI content parts of type "text".
json normalize_messages(const json& v) {
  if (!v.is_array() || v.empty()) throw bad_request("messages", "must be a non-empty array");
  json out = json::array();
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = "messages[" + std::to_string(i) + "]";
    const json& m = v[i];
    if (!m.is_object()) throw bad_request(p, "must be an object with role and content");
    if (!m.contains("role")) throw bad_request(p + ".role", "is required");
    json msg = m;
    msg["role"] = get_string(m["role"], p + ".role");
    const json content = m.value("content", json(nullptr));
    if (content.is_array()) {
      std::string text;
      for (size_t k = 0; k < content.size(); ++k) {
        const json& part = content[k];
        const std::string pp = p + ".content[" + std::to_string(k) + "]";
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text")) {
          throw bad_request(pp, "only parts of type \"text\" are supported");
        }
        text += get_string(part["text"], pp + ".text");
      }
      msg["content"] = text;
    } else if (content.is_null()) {
      msg["content"] = "";
    } else {
      msg["content"] = get_string(content, p + ".content");
    }
    out.push_back(std::move(msg));
  }
  return out;
}

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
    case Endpoint::kGenerate: {
      static const std::set<std::string> kKeys = {"model",  "prompt",    "prompt_ids",
                                                  "stream", "diffusion", "add_special_tokens"};
      for (auto it = body.begin(); it != body.end(); ++it) {
        if (!kKeys.count(it.key())) {
          throw bad_request(it.key(),
                            "unknown key (expected model, prompt or prompt_ids, "
                            "diffusion, stream, add_special_tokens)");
        }
      }
      const bool has_text = body.contains("prompt") && !body["prompt"].is_null();
      const bool has_ids = body.contains("prompt_ids") && !body["prompt_ids"].is_null();
      if (has_text == has_ids)
        throw bad_request("prompt", "give exactly one of prompt and prompt_ids");
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
    if (in.messages) {
      out.text = render_chat(*lm.tokenizer, *in.messages, /*add_generation_prompt=*/true,
                             nlohmann::json::object(), limits);
      out.ids = lm.tokenizer->encode(*out.text, /*add_special_tokens=*/false);
    } else {
      out.text = *in.prompt;
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
