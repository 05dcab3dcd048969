// Ollama's answer shapes: the /api/generate and /api/chat objects (one at the end, or a
// newline-delimited stream of them), /api/tags and /api/ps entries, and /api/show.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "service/db/db.h"
#include "service/http/responses.h"

namespace dlx::http {

// Ollama lists models as NAME:TAG; ours are all "latest".
std::string ollama_name(const std::string& model);
// RFC 3339 UTC with milliseconds, e.g. 2026-12-07T15:34:51.123Z.
std::string ollama_time(int64_t ms);

// The non-streaming answer (done: true, the whole text, timings in nanoseconds).
nlohmann::json ollama_result(const JobRequest& r, const JobOutcome& o);
// The NDJSON stream: one object per text delta, then the final one (or {"error": ...}).
std::unique_ptr<StreamFormat> make_ollama_stream(const JobRequest& r);
// The answer to a request that only loads the model (no prompt / no messages).
nlohmann::json ollama_load_answer(Endpoint endpoint, const std::string& model);

// One model of /api/tags (and, with `loaded` fields, /api/ps).
nlohmann::json ollama_tag(const db::ModelRow& row);
// /api/show: details, model_info (architecture, parameters, context length), the chat
// template and the model's decoding defaults as Ollama's "parameters" text.
nlohmann::json ollama_show(const db::ModelRow& row, const LoadedModel& lm);

}  // namespace dlx::http
