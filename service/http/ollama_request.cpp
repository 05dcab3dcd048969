#include "service/http/ollama_request.h"

#include <climits>
#include <set>

#include "engine/decode/decode_keys.h"
#include "service/http/api_error.h"
#include "service/http/json_fields.h"

namespace dlx::http {
namespace {

using nlohmann::json;

bool is_empty(const json& v) {
  return v.is_null() || ((v.is_array() || v.is_object() || v.is_string()) && v.empty());
}

void refuse_thinking(const json& body) {
  if (body.contains("think") && !body["think"].is_null() &&
      !(body["think"].is_boolean() && !body["think"].get<bool>())) {
    throw bad_request("think", "thinking output is not supported; leave think out or false");
  }
}

// Options that tune llama.cpp's runtime (memory, threads, batching) have no effect on the
// answer: accepted. Sampling options we do not implement are accepted only at their neutral
// values.
void read_options(const json& options, GenerationInput& in) {
  if (options.is_null()) return;
  if (!options.is_object()) throw bad_request("options", "must be a JSON object");
  static const std::set<std::string> kRuntime = {
      "num_ctx",      "num_keep",    "num_batch",  "num_gpu",       "main_gpu",
      "num_thread",   "use_mmap",    "use_mlock",  "numa",          "low_vram",
      "vocab_only",   "f16_kv",      "logits_all", "repeat_last_n", "penalize_newline",
      "mirostat_tau", "mirostat_eta"};
  struct Neutral {
    const char* name;
    int value;
  };
  static const Neutral kNeutral[] = {
      {"repeat_penalty", 1}, {"presence_penalty", 0}, {"frequency_penalty", 0}, {"typical_p", 1},
      {"tfs_z", 1},          {"mirostat", 0}};
  for (auto it = options.begin(); it != options.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    const std::string param = "options." + k;
    if (k == "temperature") {
      if (!v.is_null()) {
        in.temperature = get_number(v, param);
        if (*in.temperature < 0) throw bad_request(param, "must be >= 0");
      }
    } else if (k == "top_k") {
      if (!v.is_null()) in.top_k = static_cast<int>(get_int(v, param, 0, INT32_MAX));
    } else if (k == "top_p") {
      if (!v.is_null()) {
        in.top_p = get_number(v, param);
        if (!(*in.top_p > 0 && *in.top_p <= 1)) throw bad_request(param, "must be in (0, 1]");
      }
    } else if (k == "seed") {
      // Ollama clients send -1 for "random": the decoding seed default.
      if (!v.is_null() && !(v.is_number_integer() && v.get<int64_t>() == -1)) {
        in.seed = get_int(v, param, 0, INT64_MAX);
      }
    } else if (k == "num_predict") {
      // -1: until the end (the model's default length); -2: fill the context (same here).
      if (!v.is_null()) {
        const int64_t n = get_int(v, param, -2, 1 << 20);
        if (n == 0) throw bad_request(param, "must be >= 1 (or -1 for the model's default)");
        if (n > 0) in.max_tokens = static_cast<int>(n);
      }
    } else if (k == "stop") {
      in.stop = get_stop(v, param);
    } else if (kRuntime.count(k)) {
      continue;
    } else if (find_decode_key(k)) {
      in.diffusion[k] = v;  // validated with the other decoding keys
    } else {
      bool known = false;
      for (const Neutral& n : kNeutral) {
        if (k != n.name) continue;
        known = true;
        if (!v.is_null() && !(v.is_number() && v.get<double>() == n.value)) {
          throw bad_request(param,
                            "is not supported (a diffusion model decodes every position "
                            "at once); leave it out or send " +
                                std::to_string(n.value));
        }
      }
      if (!known) {
        throw bad_request(param,
                          "unknown option (Ollama's temperature, top_k, top_p, seed, num_predict, "
                          "stop, or a decoding key of GET /v1/models/NAME)");
      }
    }
  }
}

void check_keys(const json& body, const std::set<std::string>& keys, const char* route) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (!keys.count(it.key())) {
      throw bad_request(it.key(), std::string("unknown key for ") + route);
    }
  }
}

// Ollama messages: role, content, and images / tool_calls / thinking (empty only).
json read_messages(const json& v) {
  const json messages = normalize_messages(v);
  json out = json::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    const std::string p = "messages[" + std::to_string(i) + "]";
    for (auto it = m.begin(); it != m.end(); ++it) {
      const std::string& k = it.key();
      if (k == "role" || k == "content" || k == "thinking") continue;
      if ((k == "images" || k == "tool_calls") && is_empty(it.value())) continue;
      if (k == "images") throw bad_request(p + ".images", "images are not supported");
      if (k == "tool_calls") throw bad_request(p + ".tool_calls", "tool calling is not supported");
      throw bad_request(p + "." + k, "unknown key (expected role and content)");
    }
    out.push_back({{"role", m["role"]}, {"content", m["content"]}});
  }
  return out;
}

}  // namespace

std::string ollama_model_name(const std::string& name) {
  const std::string tag = ":latest";
  if (name.size() > tag.size() && name.compare(name.size() - tag.size(), tag.size(), tag) == 0) {
    return name.substr(0, name.size() - tag.size());
  }
  return name;
}

bool ollama_load_only(Endpoint endpoint, const json& body) {
  if (endpoint == Endpoint::kOllamaChat) return is_empty(body.value("messages", json(nullptr)));
  return is_empty(body.value("prompt", json(nullptr)));
}

GenerationInput parse_ollama_input(Endpoint endpoint, const json& body) {
  GenerationInput in;
  in.endpoint = endpoint;
  const bool chat = endpoint == Endpoint::kOllamaChat;
  if (chat) {
    check_keys(body,
               {"model", "messages", "tools", "format", "options", "stream", "keep_alive", "think"},
               "/api/chat");
  } else {
    check_keys(body,
               {"model", "prompt", "suffix", "system", "template", "context", "images", "format",
                "options", "stream", "raw", "keep_alive", "think"},
               "/api/generate");
  }
  if (!body.contains("model")) throw bad_request("model", "is required");
  in.model = ollama_model_name(get_string(body["model"], "model"));
  refuse_thinking(body);
  // keep_alive: models stay loaded until POST /v1/models/NAME/unload; any value is accepted.
  if (chat) {
    if (body.contains("tools") && !is_empty(body["tools"])) {
      throw bad_request("tools", "tool calling is not supported");
    }
    in.messages = read_messages(body.value("messages", json(nullptr)));
  } else {
    in.prompt = get_string(body.value("prompt", json("")), "prompt");
    if (body.contains("suffix") && !is_empty(body["suffix"])) {
      throw bad_request("suffix", "suffix (insertion) is not supported");
    }
    if (body.contains("images") && !is_empty(body["images"])) {
      throw bad_request("images", "images are not supported");
    }
    if (body.contains("template") && !is_empty(body["template"])) {
      throw bad_request("template",
                        "Ollama (Go) templates are not supported; the model's own chat template "
                        "is applied (or none with raw: true)");
    }
    if (body.contains("context") && !is_empty(body["context"])) {
      throw bad_request("context",
                        "context is not supported: send the conversation as /api/chat messages");
    }
    if (body.contains("system") && !body["system"].is_null()) {
      in.system = get_string(body["system"], "system");
    }
    const bool raw = body.contains("raw") && !body["raw"].is_null() && get_bool(body["raw"], "raw");
    in.template_prompt = !raw;
    in.add_special_tokens = !raw;
  }
  read_options(body.value("options", json(nullptr)), in);
  // Ollama streams unless told not to.
  const bool stream =
      !body.contains("stream") || body["stream"].is_null() || get_bool(body["stream"], "stream");
  in.stream = stream ? StreamMode::kNdjson : StreamMode::kNone;
  return in;
}

}  // namespace dlx::http
