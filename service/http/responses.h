// The JSON shapes the API answers with: OpenAI objects (model, text_completion,
// chat.completion and their stream chunks), the native generation result, the generation log
// rows, and the SSE framing of every stream mode.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "service/db/db.h"
#include "service/jobs/job.h"

namespace dlx::http {

// Serializes for the wire; invalid UTF-8 (a random model can emit any bytes) becomes U+FFFD
// instead of an exception.
std::string dump(const nlohmann::json& j);

// A registry row as the API shows it: `path` relative to `models_dir` (or the folder's name),
// never the server's absolute path.
nlohmann::json model_object(const db::ModelRow& row, const std::string& models_dir);
nlohmann::json generation_object(const db::GenerationRow& row);
// The non-streaming answer of a successful job, in its endpoint's shape.
nlohmann::json result_object(const JobRequest& req, const JobOutcome& out);

// One SSE stream: what is sent first, per job event, and at the end (always ending with
// `data: [DONE]`).
class StreamFormat {
 public:
  virtual ~StreamFormat() = default;
  virtual std::string open() = 0;
  virtual std::string event(const JobEvent& e) = 0;
  virtual std::string close(const JobOutcome& out) = 0;
  virtual const char* content_type() const { return "text/event-stream"; }
};

std::unique_ptr<StreamFormat> make_stream_format(const JobRequest& req);

}  // namespace dlx::http
