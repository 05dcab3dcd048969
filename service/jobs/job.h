// Job: one accepted generation request, shared by the HTTP thread that accepted it (and
// streams or waits for its result) and the worker thread that runs it. The worker pushes
// events and finally the outcome; the HTTP side consumes them and may cancel at any time.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/decode/canvas_spec.h"
#include "engine/decode/decode_params.h"
#include "engine/decode/finish_reason.h"
#include "engine/decode/json_schema.h"
#include "engine/decode/step_event.h"
#include "engine/util/error.h"
#include "service/db/status.h"
#include "service/jobs/clock.h"
#include "service/jobs/model_registry.h"

namespace dlx {

// OpenAI's two, our native two (/v1/generate, /v1/infill), and Ollama's two (/api/generate,
// /api/chat).
enum class Endpoint { kCompletions, kChat, kGenerate, kInfill, kOllamaGenerate, kOllamaChat };
// none: one JSON response; openai: OpenAI SSE chunks; append / denoise: native SSE modes;
// ndjson: Ollama's newline-delimited JSON objects.
enum class StreamMode { kNone, kOpenAI, kAppend, kDenoise, kNdjson };
enum class CancelReason : int { kNone = 0, kClient, kTimeout, kShutdown, kStopString };

const char* endpoint_path(Endpoint e);
inline bool is_ollama(Endpoint e) {
  return e == Endpoint::kOllamaGenerate || e == Endpoint::kOllamaChat;
}

// Everything the worker needs, validated by the HTTP thread before the job is queued.
struct JobRequest {
  std::string id;
  Endpoint endpoint = Endpoint::kGenerate;
  std::shared_ptr<const LoadedModel> model;
  std::vector<int32_t> prompt_ids;
  std::optional<std::string> prompt_text;  // for the log: the prompt or rendered chat
  DecodeParams params;
  nlohmann::json log_params;      // what the log stores: effective decoding params + options
  std::vector<std::string> stop;  // OpenAI stop strings
  // Templates and infill (README: Infill): the canvas (its prompt is prompt_ids; params'
  // gen_length its region), and how many fixed tokens at the region's end the text leaves out
  // (infill answers with the middle only: its suffix). Null: a plain generation.
  std::shared_ptr<const CanvasSpec> canvas;
  int text_trim = 0;
  // Structured output: the schema the text must validate against before it is returned.
  std::shared_ptr<const SchemaNode> schema;
  StreamMode stream = StreamMode::kNone;
  bool include_usage = false;  // OpenAI streams: usage in a last chunk of its own
  SteadyClock::time_point accepted;
  SteadyClock::time_point deadline;  // per-request time limit
  int64_t created_unix_ms = 0;
};

// What a streaming client is sent while the job runs.
struct JobEvent {
  enum class Kind { kStep, kText } kind = Kind::kStep;
  // kStep (denoise mode): one forward (its canvas view cleared: it is not kept).
  StepEvent step;
  // kText (append / openai modes): newly final ids and the text now safe to show.
  std::vector<int32_t> ids;
  std::string text;
};

struct JobOutcome {
  db::GenerationStatus status = db::GenerationStatus::kError;  // ok | error | cancelled
  bool ok() const { return status == db::GenerationStatus::kOk; }
  std::vector<int32_t> output_ids;
  int64_t answer_tokens = 0;  // output_ids up to and incl. the first end token: what is counted
  std::optional<std::string> text;          // null without a tokenizer
  std::vector<std::vector<int32_t>> holes;  // templates: per hole, its ids (no end tokens)
  std::vector<std::string> hole_texts;      // and its text (with a tokenizer)
  FinishReason finish_reason = FinishReason::kLength;  // ok only
  int forward_calls = 0;
  double queue_ms = 0, run_ms = 0, forward_ms = 0;
  std::optional<Error> error;  // set when !ok(); service/http/ turns it into a status and body
};

class Job {
 public:
  explicit Job(JobRequest r) : req_(std::move(r)) {}
  const JobRequest& req() const { return req_; }

  // Asks the job to stop before its next forward. The first reason wins.
  void cancel(CancelReason reason);
  CancelReason cancel_reason() const { return static_cast<CancelReason>(reason_.load()); }
  const std::atomic<bool>* cancel_flag() const { return &cancel_; }

  // Worker side.
  void push(JobEvent e);
  void finish(JobOutcome o);

  // HTTP side: waits up to `timeout` for events, moving them into `out` (appending). Returns
  // true once the job has finished and every event was handed out.
  bool wait(std::vector<JobEvent>& out, std::chrono::milliseconds timeout);
  // Valid after wait() returned true.
  const JobOutcome& outcome() const { return outcome_; }

 private:
  const JobRequest req_;
  std::atomic<bool> cancel_{false};
  std::atomic<int> reason_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<JobEvent> events_;
  bool finished_ = false;
  JobOutcome outcome_;
};

}  // namespace dlx
