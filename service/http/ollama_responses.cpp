#include "service/http/ollama_responses.h"

#include <cmath>
#include <cstdio>
#include <ctime>

#include "engine/decode/decode_params.h"
#include "engine/engine.h"
#include "service/http/api_error.h"
#include "service/jobs/clock.h"

namespace dlx::http {
namespace {

using nlohmann::json;

bool is_chat(const JobRequest& r) {
  return r.endpoint == Endpoint::kOllamaChat;
}

int64_t ns(double ms) {
  return static_cast<int64_t>(std::llround(ms * 1e6));
}

// The final object's fields, shared by the non-streaming answer and the stream's last line.
// A diffusion model has no separate prompt pass: the whole run is eval_duration.
json final_object(const JobRequest& r, const JobOutcome& o, const std::string& text) {
  json j = {{"model", ollama_name(r.model->name)}, {"created_at", ollama_time(unix_ms())}};
  if (is_chat(r)) {
    j["message"] = {{"role", "assistant"}, {"content", text}};
  } else {
    j["response"] = text;
  }
  j["done"] = true;
  j["done_reason"] = finish_reason_name(o.finish_reason);
  j["total_duration"] = ns(o.queue_ms + o.run_ms);
  j["load_duration"] = 0;
  j["prompt_eval_count"] = r.prompt_ids.size();
  j["prompt_eval_duration"] = 0;
  j["eval_count"] = o.answer_tokens;
  j["eval_duration"] = ns(o.run_ms);
  return j;
}

class OllamaStream : public StreamFormat {
 public:
  explicit OllamaStream(const JobRequest& r) : r_(r) {}
  std::string open() override { return ""; }
  std::string event(const JobEvent& e) override {
    if (e.kind != JobEvent::Kind::kText || e.text.empty()) return "";
    json j = {{"model", ollama_name(r_.model->name)}, {"created_at", ollama_time(unix_ms())}};
    if (is_chat(r_)) {
      j["message"] = {{"role", "assistant"}, {"content", e.text}};
    } else {
      j["response"] = e.text;
    }
    j["done"] = false;
    return dump(j) + "\n";
  }
  std::string close(const JobOutcome& o) override {
    if (!o.ok()) return dump(json{{"error", to_error_info(*o.error).message}}) + "\n";
    return dump(final_object(r_, o, "")) + "\n";
  }
  const char* content_type() const override { return "application/x-ndjson"; }

 private:
  const JobRequest& r_;
};

// 1372800 -> "1.4M", 7615616512 -> "7.6B" (Ollama's parameter_size).
std::string parameter_size(int64_t n) {
  const char* unit = "";
  double v = static_cast<double>(n);
  if (n >= 1000000000) {
    v /= 1e9;
    unit = "B";
  } else if (n >= 1000000) {
    v /= 1e6;
    unit = "M";
  } else if (n >= 1000) {
    v /= 1e3;
    unit = "K";
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f%s", v, unit);
  return buf;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

json details(const db::ModelRow& row) {
  return {{"parent_model", ""},
          {"format", "safetensors"},
          {"family", row.family},
          {"families", json::array({row.family})},
          {"parameter_size", parameter_size(row.parameters)},
          {"quantization_level", upper(row.dtype)}};
}

}  // namespace

std::string ollama_name(const std::string& model) {
  return model + ":latest";
}

std::string ollama_time(int64_t ms) {
  const time_t secs = static_cast<time_t>(ms / 1000);
  tm utc{};
  gmtime_r(&secs, &utc);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buf + n, sizeof(buf) - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

json ollama_result(const JobRequest& r, const JobOutcome& o) {
  return final_object(r, o, o.text.value_or(""));
}

std::unique_ptr<StreamFormat> make_ollama_stream(const JobRequest& r) {
  return std::make_unique<OllamaStream>(r);
}

json ollama_load_answer(Endpoint endpoint, const std::string& model) {
  json j = {{"model", ollama_name(model)}, {"created_at", ollama_time(unix_ms())}};
  if (endpoint == Endpoint::kOllamaChat) {
    j["message"] = {{"role", "assistant"}, {"content", ""}};
  } else {
    j["response"] = "";
  }
  j["done"] = true;
  j["done_reason"] = "load";
  return j;
}

json ollama_tag(const db::ModelRow& row) {
  return {{"name", ollama_name(row.name)},
          {"model", ollama_name(row.name)},
          {"modified_at", ollama_time(row.created_at)},
          {"size", row.file_bytes},
          {"digest", row.config_sha256},
          {"details", details(row)}};
}

json ollama_show(const db::ModelRow& row, const LoadedModel& lm) {
  // Ollama's "parameters": one "key value" line per default, as a Modelfile writes them.
  std::string parameters;
  const json defaults = to_json(lm.info.decoding);
  for (auto it = defaults.begin(); it != defaults.end(); ++it) {
    if (it.value().is_null()) continue;
    const std::string v =
        it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
    parameters += it.key() + " " + v + "\n";
  }
  const std::string tmpl = lm.tokenizer ? lm.tokenizer->config().chat_template : "";
  json info = {{"general.architecture", row.family},
               {"general.basename", row.name},
               {"general.parameter_count", row.parameters},
               {row.family + ".context_length", lm.info.max_positions}};
  return {{"modelfile", "# served by DiffuLex Edge\nFROM " + row.name + "\n"},
          {"parameters", parameters},
          {"template", tmpl},
          {"details", details(row)},
          {"model_info", info},
          {"capabilities", json::array({"completion"})},
          {"modified_at", ollama_time(row.created_at)}};
}

}  // namespace dlx::http
