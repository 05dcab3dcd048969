// Routes that generate: POST /v1/completions, /v1/chat/completions (OpenAI) and /v1/generate
// (native). The HTTP thread validates everything, queues a job, then either waits for it or
// streams its events as SSE; a client that goes away cancels the job.
#include <chrono>
#include <memory>

#include "engine/decode/decode_params.h"
#include "engine/decode/generate.h"
#include "service/http/connection_gate.h"
#include "service/http/generation_request.h"
#include "service/http/responses.h"
#include "service/http/service.h"
#include "service/http/structured_request.h"
#include "service/http/template_request.h"

namespace dlx::http {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// How often a waiting handler looks at its client and the deadline. A cancel reaches the
// worker before its next forward, so this bounds the extra work a departed client costs.
constexpr milliseconds kPollInterval{50};

const char* id_prefix(Endpoint e) {
  switch (e) {
    case Endpoint::kCompletions:
      return "cmpl-";
    case Endpoint::kChat:
      return "chatcmpl-";
    case Endpoint::kGenerate:
    case Endpoint::kInfill:
    case Endpoint::kOllamaGenerate:
    case Endpoint::kOllamaChat:
      return "gen-";
  }
  return "gen-";
}

const char* stream_name(StreamMode m) {
  switch (m) {
    case StreamMode::kNone:
      return "none";
    case StreamMode::kOpenAI:
      return "openai";
    case StreamMode::kAppend:
      return "append";
    case StreamMode::kDenoise:
      return "denoise";
    case StreamMode::kNdjson:
      return "ndjson";
  }
  return "none";
}

class InFlight {
 public:
  explicit InFlight(std::atomic<int>& n) : n_(n) { ++n_; }
  ~InFlight() { --n_; }

 private:
  std::atomic<int>& n_;
};

// Builds the job: validation happens here, on the HTTP thread, before anything is queued.
std::shared_ptr<Job> make_job(Service& s, Endpoint ep, const httplib::Request& req) {
  const json body = parse_body(req.body);
  const GenerationInput in = parse_generation_input(ep, body);
  const std::optional<StructuredOutput> structured = parse_structured_output(ep, req.body, body);
  std::shared_ptr<const LoadedModel> lm = s.models.acquire(in.model);
  const ModelConfig& cfg = lm->model->config();
  // The time limit starts now: rendering the chat counts against it.
  const SteadyClock::time_point accepted = SteadyClock::now();
  const SteadyClock::time_point deadline =
      accepted + std::chrono::duration_cast<SteadyClock::duration>(
                     std::chrono::duration<double>(s.cfg.request_timeout_s));
  Interrupt render_stop;
  render_stop.deadline = deadline;
  jinja::RenderLimits limits;
  limits.interrupt = &render_stop;
  DecodeParams params = resolve_decode_params(cfg, in);
  const std::optional<CanvasTemplate> tmpl = request_template(in, params.gen_length);
  ResolvedPrompt prompt;
  TemplateJob tj;
  if (tmpl) {  // templates and infill: the text before the first hole is the prompt
    tj = resolve_template(*lm, in, *tmpl, params);
    params = canvas_params(*tj.canvas, params);
    prompt.ids = tj.canvas->prompt;
    prompt.text = tj.prompt_text;
  } else {
    prompt = resolve_prompt(*lm, in, limits);
  }
  if (structured) {  // the prompt, then the schema's skeleton with its value holes
    if (tmpl) {
      throw_invalid_argument(structured->param,
                             "structured output cannot be combined with a template or suffix");
    }
    tj.canvas = structured_canvas(*lm, in, *structured, prompt.ids, params);
    params = canvas_params(*tj.canvas, params);
  }
  validate(params, cfg, static_cast<int>(prompt.ids.size()));
  if (structured) validate_canvas(*tj.canvas, cfg, params);
  check_generation_budget(cfg, static_cast<int>(prompt.ids.size()), params, s.cfg.max_request_bytes,
                          "--max-request-memory");

  JobRequest r;
  r.id = s.ids.next(id_prefix(ep));
  r.endpoint = ep;
  r.model = std::move(lm);
  r.prompt_ids = std::move(prompt.ids);
  r.prompt_text = std::move(prompt.text);
  r.params = params;
  r.log_params = {{"diffusion", to_json(params)}, {"stream", stream_name(in.stream)}};
  if (tmpl) r.log_params.update(tj.log);
  r.canvas = std::move(tj.canvas);
  r.text_trim = tj.text_trim;
  if (!in.stop.empty()) r.log_params["stop"] = in.stop;
  if (structured) r.log_params["schema"] = structured->param;
  if (structured) r.schema = structured->schema;
  r.stop = in.stop;
  r.stream = in.stream;
  r.include_usage = in.include_usage;
  r.accepted = accepted;
  r.deadline = deadline;
  r.created_unix_ms = unix_ms();
  return std::make_shared<Job>(std::move(r));
}

void check_deadline(Job& job) {
  if (SteadyClock::now() > job.req().deadline) job.cancel(CancelReason::kTimeout);
}

void wait_and_respond(Service& s, const std::shared_ptr<Job>& job, httplib::Response& res) {
  InFlight guard(s.in_flight);
  std::vector<JobEvent> ignored;
  while (!job->wait(ignored, kPollInterval)) {
    ignored.clear();
    // httplib 0.11 gives a handler no view of its socket; the gate knows this thread's.
    if (ConnectionGate::client_gone()) job->cancel(CancelReason::kClient);
    check_deadline(*job);
  }
  const JobOutcome& o = job->outcome();
  if (o.ok()) {
    send_json(res, 200, result_object(job->req(), o));
  } else {
    send_error(res, to_error_info(*o.error),
               is_ollama(job->req().endpoint) ? ErrorShape::kOllama : ErrorShape::kOpenAI);
  }
}

// State of one SSE response, shared by httplib's content provider and its releaser.
struct StreamState {
  std::shared_ptr<Job> job;
  std::unique_ptr<StreamFormat> format;
  Service* service = nullptr;
  bool opened = false, finished = false;
  std::vector<JobEvent> events;

  // One call of the content provider: send what is ready. False ends the response.
  bool pump(httplib::DataSink& sink) {
    std::string out;
    if (!opened) {
      out = format->open();
      opened = true;
    }
    events.clear();
    const bool done = job->wait(events, kPollInterval);
    if (!sink.is_writable()) {  // peeks at the socket: false once the client has gone
      job->cancel(CancelReason::kClient);
      return false;
    }
    check_deadline(*job);
    for (const auto& e : events) out += format->event(e);
    if (done) out += format->close(job->outcome());
    if (!out.empty() && !sink.write(out.data(), out.size())) {
      job->cancel(CancelReason::kClient);
      return false;
    }
    if (done) {
      finished = true;
      sink.done();
    }
    return true;
  }
};

void stream_response(Service& s, const std::shared_ptr<Job>& job, httplib::Response& res) {
  auto st = std::make_shared<StreamState>();
  st->job = job;
  st->format = make_stream_format(job->req());
  st->service = &s;
  ++s.in_flight;
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");  // proxies must not buffer the stream
  res.set_chunked_content_provider(
      st->format->content_type(), [st](size_t, httplib::DataSink& sink) { return st->pump(sink); },
      [st](bool) {
        // Runs when the response is done or abandoned (write error, server stopping).
        if (!st->finished) st->job->cancel(CancelReason::kClient);
        --st->service->in_flight;
      });
}

}  // namespace

void handle_generation(Service& s, Endpoint ep, const httplib::Request& req,
                       httplib::Response& res) {
  if (s.draining) {
    throw ApiError(503, "service_unavailable", "shutting_down", "the server is shutting down");
  }
  std::shared_ptr<Job> job = make_job(s, ep, req);
  if (!s.scheduler.try_submit(job)) {
    s.metrics.rejected_queue_full();
    throw ApiError(429, "rate_limit_error", "queue_full",
                   "the generation queue is full (" + std::to_string(s.cfg.max_queue) +
                       " waiting, --max-queue); retry later",
                   "", s.scheduler.retry_after_seconds());
  }
  if (job->req().stream == StreamMode::kNone) {
    wait_and_respond(s, job, res);
  } else {
    stream_response(s, job, res);
  }
}

void add_generation_routes(Router& router, Service& s) {
  const std::pair<const char*, Endpoint> routes[] = {{"/v1/completions", Endpoint::kCompletions},
                                                     {"/v1/chat/completions", Endpoint::kChat},
                                                     {"/v1/generate", Endpoint::kGenerate},
                                                     {"/v1/infill", Endpoint::kInfill}};
  for (const auto& [path, ep] : routes) {
    router.add("POST", path,
               [&s, ep = ep](const httplib::Request& req, httplib::Response& res,
                             const std::smatch&) { handle_generation(s, ep, req, res); });
  }
}

}  // namespace dlx::http
