#include "service/http/responses.h"

#include <filesystem>
#include <span>

#include "engine/util/error.h"
#include "service/http/api_error.h"
#include "service/http/ollama_responses.h"

namespace dlx::http {
namespace {

using nlohmann::json;

constexpr const char* kDone = "data: [DONE]\n\n";

int64_t created_s(const JobRequest& r) {
  return r.created_unix_ms / 1000;
}

json usage_json(const JobRequest& r, const JobOutcome& o) {
  const int64_t prompt = static_cast<int64_t>(r.prompt_ids.size());
  const int64_t completion = o.answer_tokens;  // never padding after the end token
  return {{"prompt_tokens", prompt},
          {"completion_tokens", completion},
          {"total_tokens", prompt + completion},
          {"forward_calls", o.forward_calls}};
}

json timings_json(const JobOutcome& o) {
  const double tps = o.run_ms > 0 ? 1000.0 * static_cast<double>(o.answer_tokens) / o.run_ms : 0;
  return {{"queue_ms", o.queue_ms},
          {"run_ms", o.run_ms},
          {"forward_ms", o.forward_ms},
          {"ms_per_forward", o.forward_calls ? o.forward_ms / o.forward_calls : 0.0},
          {"tokens_per_second", tps}};
}

// OpenAI answers carry our timings inside usage (clients keep usage; they drop unknown keys
// at the top level).
json with_timings(json usage, const JobOutcome& o) {
  usage["timings"] = timings_json(o);
  return usage;
}

json parse_or_null(const std::optional<std::string>& s) {
  if (!s) return nullptr;
  return json::parse(*s, nullptr, /*allow_exceptions=*/false);
}

std::string sse(const json& j) {
  return "data: " + dump(j) + "\n\n";
}
std::string sse(const char* event, const json& j) {
  return std::string("event: ") + event + "\ndata: " + dump(j) + "\n\n";
}

// Templates and infill: per hole its text and ids (and its name, when the part had one).
json holes_json(const JobRequest& r, const JobOutcome& o) {
  json holes = json::array();
  for (size_t i = 0; i < o.holes.size(); ++i) {
    json h = {{"ids", o.holes[i]},
              {"text", i < o.hole_texts.size() ? json(o.hole_texts[i]) : json(nullptr)}};
    const std::string& name = r.canvas->holes[i].name;
    if (!name.empty()) h["name"] = name;
    holes.push_back(std::move(h));
  }
  return holes;
}

json native_result(const JobRequest& r, const JobOutcome& o) {
  json j = {{"id", r.id},
            {"object", "generation"},
            {"created", created_s(r)},
            {"model", r.model->name},
            {"output_ids", o.output_ids},
            {"text", o.text ? json(*o.text) : json(nullptr)},
            {"finish_reason", finish_reason_name(o.finish_reason)},
            {"forward_calls", o.forward_calls},
            {"usage", usage_json(r, o)},
            {"timings", timings_json(o)},
            {"diffusion", to_json(r.params)}};
  if (r.canvas) j["holes"] = holes_json(r, o);
  return j;
}

// Templates in the stream's start event: the region as it starts (mask id at the holes), each
// fixed token's text, and the holes, so a denoise view can show the fixed text from the start.
json canvas_json(const JobRequest& r) {
  const CanvasSpec& s = *r.canvas;
  const Tokenizer* tok = r.model->tokenizer.get();
  const int32_t mask = r.model->model->config().mask_id;
  json pieces = json::array(), holes = json::array();
  for (int32_t id : s.region) {
    pieces.push_back(id == mask || !tok ? json(nullptr)
                                        : json(tok->decode(std::span<const int32_t>(&id, 1))));
  }
  for (const CanvasHole& h : s.holes) {
    holes.push_back({{"begin", h.begin}, {"length", h.length}, {"min_tokens", h.min_tokens}});
  }
  return {{"ids", s.region},
          {"pieces", pieces},
          {"holes", holes},
          {"mask_id", mask},
          {"text_trim", r.text_trim}};
}

// OpenAI chunk streams (text_completion / chat.completion.chunk).
class OpenAIStream : public StreamFormat {
 public:
  explicit OpenAIStream(const JobRequest& r) : r_(r), chat_(r.endpoint == Endpoint::kChat) {}

  std::string open() override {
    if (!chat_) return "";
    return sse(chunk(json{{"role", "assistant"}, {"content", ""}}, nullptr));
  }
  std::string event(const JobEvent& e) override {
    if (e.kind != JobEvent::Kind::kText || e.text.empty()) return "";
    return chat_ ? sse(chunk(json{{"content", e.text}}, nullptr)) : sse(chunk(e.text, nullptr));
  }
  std::string close(const JobOutcome& o) override {
    if (!o.ok()) return sse(error_json(to_error_info(*o.error))) + kDone;
    json last = chat_ ? chunk(json::object(), finish_reason_name(o.finish_reason))
                      : chunk("", finish_reason_name(o.finish_reason));
    if (!r_.include_usage) {
      last["usage"] = with_timings(usage_json(r_, o), o);
      return sse(last) + kDone;
    }
    // stream_options.include_usage, as OpenAI sends it: every chunk has "usage": null, and one
    // more chunk with no choices carries the usage (and our timings).
    json usage = with_timings(usage_json(r_, o), o);
    json tail = frame(json::array());
    tail["usage"] = std::move(usage);
    return sse(last) + sse(tail) + kDone;
  }

 private:
  // delta: chat delta object, or completion text.
  json chunk(const json& delta, const json& finish_reason) const {
    json choice = {{"index", 0}, {"finish_reason", finish_reason}};
    if (chat_) {
      choice["delta"] = delta;
    } else {
      choice["text"] = delta;
      choice["logprobs"] = nullptr;
    }
    return frame(json::array({choice}));
  }
  json frame(json choices) const {
    json j = {{"id", r_.id},
              {"object", chat_ ? "chat.completion.chunk" : "text_completion"},
              {"created", created_s(r_)},
              {"model", r_.model->name},
              {"choices", std::move(choices)}};
    if (r_.include_usage) j["usage"] = nullptr;
    return j;
  }
  const JobRequest& r_;
  const bool chat_;
};

// Native streams: "append" (final text as it grows) and "denoise" (every forward).
class NativeStream : public StreamFormat {
 public:
  explicit NativeStream(const JobRequest& r) : r_(r) {}

  std::string open() override {
    return sse("start", {{"type", "start"},
                         {"id", r_.id},
                         {"object", "generation.start"},
                         {"created", created_s(r_)},
                         {"model", r_.model->name},
                         {"mode", r_.stream == StreamMode::kDenoise ? "denoise" : "append"},
                         {"prompt_tokens", r_.prompt_ids.size()},
                         {"diffusion", to_json(r_.params)},
                         {"canvas", r_.canvas ? canvas_json(r_) : json(nullptr)}});
  }
  std::string event(const JobEvent& e) override {
    if (e.kind == JobEvent::Kind::kText) {
      return sse("delta", {{"type", "delta"}, {"ids", e.ids}, {"text", e.text}});
    }
    json j = to_json(e.step, r_.model->tokenizer.get());
    j["type"] = "step";
    return sse("step", j);
  }
  std::string close(const JobOutcome& o) override {
    if (!o.ok()) {
      json j = error_json(to_error_info(*o.error));
      j["type"] = "error";
      j["id"] = r_.id;
      return sse("error", j) + kDone;
    }
    json j = native_result(r_, o);
    j["type"] = "result";
    return sse("result", j) + kDone;
  }

 private:
  const JobRequest& r_;
};

}  // namespace

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

// Where a model's files are, without the server's file system layout: the folder inside
// --models-dir (what POST /v1/models takes), else the folder's own name.
std::string shown_path(const std::string& path, const std::string& models_dir) {
  namespace fs = std::filesystem;
  if (!models_dir.empty()) {
    std::error_code ec;
    const fs::path root = fs::weakly_canonical(models_dir, ec);
    if (!ec) {
      const fs::path rel = fs::path(path).lexically_relative(root);
      if (!rel.empty() && *rel.begin() != "..") return rel.string();
    }
  }
  return fs::path(path).filename().string();
}

}  // namespace

json model_object(const db::ModelRow& row, const std::string& models_dir) {
  return {{"id", row.name},
          {"object", "model"},
          {"created", row.created_at / 1000},
          {"owned_by", "diffulex"},
          {"family", row.family},
          {"format", row.format},
          {"dtype", row.dtype},
          {"parameters", row.parameters},
          {"file_bytes", row.file_bytes},
          {"config_sha256", row.config_sha256},
          {"path", shown_path(row.path, models_dir)},
          {"context_length", row.context_length > 0 ? json(row.context_length) : json(nullptr)},
          {"status", db::status_name(row.status)},
          {"error", row.error ? json(*row.error) : json(nullptr)}};
}

json generation_object(const db::GenerationRow& g) {
  const auto& s = g.start;
  const auto& f = g.finish;
  return {{"id", s.id},
          {"object", "generation.log"},
          {"model", s.model},
          {"endpoint", s.endpoint},
          {"status", db::status_name(f.status)},
          {"params", parse_or_null(s.params)},
          {"prompt", s.prompt ? json(*s.prompt) : json(nullptr)},
          {"prompt_ids", parse_or_null(s.prompt_ids)},
          {"output_text", f.output_text ? json(*f.output_text) : json(nullptr)},
          {"output_ids", parse_or_null(f.output_ids)},
          {"prompt_tokens", s.prompt_tokens},
          {"completion_tokens", f.completion_tokens ? json(*f.completion_tokens) : json(nullptr)},
          {"forward_calls", f.forward_calls ? json(*f.forward_calls) : json(nullptr)},
          {"finish_reason",
           f.finish_reason ? json(finish_reason_name(*f.finish_reason)) : json(nullptr)},
          {"timings", parse_or_null(f.timings)},
          {"error", f.error ? json(*f.error) : json(nullptr)},
          {"created_at", s.created_at},
          {"finished_at", f.finished_at ? json(f.finished_at) : json(nullptr)}};
}

json result_object(const JobRequest& r, const JobOutcome& o) {
  const std::string text = o.text.value_or("");
  switch (r.endpoint) {
    case Endpoint::kCompletions:
      return {{"id", r.id},
              {"object", "text_completion"},
              {"created", created_s(r)},
              {"model", r.model->name},
              {"choices", json::array({{{"index", 0},
                                        {"text", text},
                                        {"logprobs", nullptr},
                                        {"finish_reason", finish_reason_name(o.finish_reason)}}})},
              {"usage", with_timings(usage_json(r, o), o)}};
    case Endpoint::kChat:
      return {{"id", r.id},
              {"object", "chat.completion"},
              {"created", created_s(r)},
              {"model", r.model->name},
              {"choices", json::array({{{"index", 0},
                                        {"message", {{"role", "assistant"}, {"content", text}}},
                                        {"logprobs", nullptr},
                                        {"finish_reason", finish_reason_name(o.finish_reason)}}})},
              {"usage", with_timings(usage_json(r, o), o)}};
    case Endpoint::kOllamaGenerate:
    case Endpoint::kOllamaChat:
      return ollama_result(r, o);
    case Endpoint::kGenerate:
    case Endpoint::kInfill:
      break;
  }
  return native_result(r, o);
}

std::unique_ptr<StreamFormat> make_stream_format(const JobRequest& r) {
  if (r.stream == StreamMode::kOpenAI) return std::make_unique<OpenAIStream>(r);
  if (r.stream == StreamMode::kNdjson) return make_ollama_stream(r);
  return std::make_unique<NativeStream>(r);
}

}  // namespace dlx::http
