#include "service/jobs/job_runner.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "engine/decode/generate.h"
#include "engine/decode/json_schema_template.h"
#include "engine/util/error.h"
#include "service/jobs/completion_text.h"

namespace dlx {

Error cancel_error(CancelReason reason, const JobRequest& req) {
  switch (reason) {
    case CancelReason::kTimeout: {
      const double limit_s = std::chrono::duration<double>(req.deadline - req.accepted).count();
      return Error(ErrorCode::kTimeout,
                   "the generation did not finish within the request time limit of " +
                       std::to_string(static_cast<int>(std::lround(limit_s))) +
                       " s (--request-timeout)");
    }
    case CancelReason::kShutdown:
      return Error(ErrorCode::kUnavailable,
                   "the server is shutting down; the generation was cancelled")
          .with_reason("shutting_down");
    case CancelReason::kClient:
    case CancelReason::kNone:
    case CancelReason::kStopString:
      break;
  }
  return Error(ErrorCode::kCancelled, "the client disconnected");
}

void JobRunner::run(Job& job) {
  const JobRequest& r = job.req();
  const LoadedModel& lm = *r.model;
  const ModelConfig& cfg = lm.model->config();
  const auto t_start = SteadyClock::now();

  db::GenerationStart start;
  start.id = r.id;
  start.model = lm.name;
  start.endpoint = endpoint_path(r.endpoint);
  start.params = r.log_params.dump();
  start.prompt = r.prompt_text;
  start.prompt_ids = nlohmann::json(r.prompt_ids).dump();
  start.prompt_tokens = static_cast<int64_t>(r.prompt_ids.size());
  start.created_at = r.created_unix_ms;
  log_.started(std::move(start));

  JobOutcome o;
  o.queue_ms = ms_between(r.accepted, t_start);
  const bool streams_text = r.stream == StreamMode::kOpenAI || r.stream == StreamMode::kAppend ||
                            r.stream == StreamMode::kNdjson;
  std::optional<CompletionText> ts;
  if (streams_text || !r.stop.empty() || lm.tokenizer) {
    ts.emplace(lm.tokenizer.get(), cfg, r.params.stop_at_eos, r.stop);
  }
  bool first_token_seen = false;
  // What the text reads: the region as its text reads (templates: less the end tokens of
  // variable holes), less the fixed tokens infill leaves out (its suffix).
  auto text_view = [&](std::span<const int32_t> ids) {
    return ids.first(ids.size() - std::min<size_t>(ids.size(), static_cast<size_t>(r.text_trim)));
  };
  auto push_text = [&](CompletionText::Delta&& d) {
    if (!first_token_seen && !d.ids.empty()) {
      first_token_seen = true;
      metrics_.first_token(lm.name, ms_between(r.accepted, SteadyClock::now()) / 1000.0);
    }
    if (streams_text && (!d.ids.empty() || !d.text.empty())) {
      JobEvent e;
      e.kind = JobEvent::Kind::kText;
      e.ids = std::move(d.ids);
      e.text = std::move(d.text);
      job.push(std::move(e));
    }
  };

  if (SteadyClock::now() > r.deadline) job.cancel(CancelReason::kTimeout);
  GenerateOptions go;
  go.cancel = job.cancel_flag();
  go.deadline = r.deadline;  // checked between layers too: one long forward cannot overrun it
  go.on_step = [&](const StepEvent& ev) {
    ++o.forward_calls;
    o.forward_ms += ev.forward_ms;
    metrics_.forward(lm.name, ev.forward_ms / 1000.0);
    if (SteadyClock::now() > r.deadline) job.cancel(CancelReason::kTimeout);
    if (r.stream == StreamMode::kDenoise) {
      JobEvent e;
      e.kind = JobEvent::Kind::kStep;
      e.step = ev;
      e.step.canvas = {};
      job.push(std::move(e));
    }
    if (ts) {
      push_text(ts->update(text_view(r.canvas ? ev.text_canvas : ev.canvas), cfg.mask_id));
      // A stop string ends the output early: no need to fill the rest of the canvas.
      if (ts->stopped_by_string()) job.cancel(CancelReason::kStopString);
    }
  };

  try {
    if (job.cancel_reason() != CancelReason::kNone) {
      throw Error(ErrorCode::kCancelled, "cancelled before it started");
    }
    GenerateResult res = r.canvas ? generate(*lm.model, *r.canvas, r.params, go)
                                  : generate(*lm.model, r.prompt_ids, r.params, go);
    o.status = db::GenerationStatus::kOk;
    o.output_ids = std::move(res.output_ids);
    o.finish_reason = res.finish_reason;
    o.forward_calls = res.forward_calls;
    if (r.canvas) {
      o.holes = hole_contents(*r.canvas, o.output_ids, cfg);
      if (lm.tokenizer) {
        for (const auto& h : o.holes) o.hole_texts.push_back(lm.tokenizer->decode(h, true));
      }
    }
    if (ts) {
      const std::vector<int32_t>& text_ids = res.text_ids.empty() ? o.output_ids : res.text_ids;
      push_text(ts->finish(r.canvas ? text_view(text_ids) : std::span<const int32_t>(text_ids)));
      if (ts->stopped_by_string()) {
        o.output_ids = ts->ids();
        o.finish_reason = FinishReason::kStop;
      }
    }
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kCancelled && job.cancel_reason() == CancelReason::kStopString) {
      push_text(ts->finish({}));
      o.status = db::GenerationStatus::kOk;
      o.output_ids = ts->ids();
      o.finish_reason = FinishReason::kStop;
    } else if (e.code() == ErrorCode::kTimeout) {
      job.cancel(CancelReason::kTimeout);
      o.status = db::GenerationStatus::kCancelled;
      o.error = cancel_error(CancelReason::kTimeout, r);
    } else if (e.code() == ErrorCode::kCancelled) {
      o.status = db::GenerationStatus::kCancelled;
      o.error = cancel_error(job.cancel_reason(), r);
    } else {
      o.status = db::GenerationStatus::kError;
      o.error = e;
    }
  } catch (...) {
    o.status = db::GenerationStatus::kError;
    o.error = to_error(std::current_exception());
  }
  if (o.ok() && lm.tokenizer) o.text = ts->text();
  // Structured output: the document is complete (finish "stop") and is checked before it is
  // returned; a failure is a bug in the constraints, never an invalid document sent.
  if (o.ok() && r.schema) {
    try {
      check_structured_output(o.text.value_or(""), *r.schema);
      o.finish_reason = FinishReason::kStop;
    } catch (const Error& e) {
      o.status = db::GenerationStatus::kError;
      o.error = e;
    }
  }
  if (o.ok()) o.answer_tokens = answer_token_count(o.output_ids, lm.model->config());
  if (o.ok() && r.canvas) {  // templates count what their holes hold
    o.answer_tokens = 0;
    for (const auto& h : o.holes) o.answer_tokens += static_cast<int64_t>(h.size());
  }
  o.run_ms = ms_between(t_start, SteadyClock::now());

  db::GenerationFinish fin;
  fin.id = r.id;
  fin.status = o.status;
  fin.forward_calls = o.forward_calls;
  fin.timings =
      nlohmann::json{{"queue_ms", o.queue_ms}, {"run_ms", o.run_ms}, {"forward_ms", o.forward_ms}}
          .dump();
  if (o.ok()) {
    fin.output_ids = nlohmann::json(o.output_ids).dump();
    fin.output_text = o.text;
    fin.finish_reason = o.finish_reason;
    fin.completion_tokens = o.answer_tokens;
  } else {
    fin.error = o.error->what();
  }
  fin.finished_at = unix_ms();
  log_.finished(std::move(fin));
  metrics_.generation_finished(lm.name, o.status, o.answer_tokens);
  job.finish(std::move(o));
}

}  // namespace dlx
