// Routes around generation: /health, /metrics, the generation log, and the tokenizer
// (/tokenize, /detokenize).

#include "engine/util/version.h"
#include "service/http/generation_request.h"
#include "service/http/responses.h"
#include "service/http/service.h"

namespace dlx::http {
namespace {

using nlohmann::json;

// A log read first lets the writer catch up with what was queued before it (bounded, so a slow
// disk only makes the read a little stale): a client that got its answer sees its final row.
constexpr std::chrono::milliseconds kLogReadWait{2000};

int parse_limit(const std::string& v) {
  size_t used = 0;
  int n = 0;
  try {
    n = std::stoi(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || used == 0 || n < 1 || n > 100) {
    throw bad_request("limit", "must be an integer from 1 to 100");
  }
  return n;
}

std::shared_ptr<const LoadedModel> model_of(Service& s, const json& body) {
  if (body.contains("model") && !body["model"].is_string()) {
    throw bad_request("model", "must be a string");
  }
  // Without a model the only loaded one serves the request.
  auto lm = s.models.acquire(body.value("model", std::string()));
  if (!lm->tokenizer) {
    throw bad_request("model", "model '" + lm->name + "' has no tokenizer.json");
  }
  return lm;
}

bool flag(const json& body, const char* key, bool fallback) {
  if (!body.contains(key)) return fallback;
  if (!body[key].is_boolean()) throw bad_request(key, "must be true or false");
  return body[key].get<bool>();
}

}  // namespace

void add_admin_routes(Router& router, Service& s) {
  router.add(
      "GET", "/health",
      [&s](const httplib::Request&, httplib::Response& res, const std::smatch&) {
        if (s.draining) {
          send_json(res, 503, {{"status", "shutting_down"}});
        } else if (!s.models.ready()) {
          send_json(res, 503, {{"status", "loading"}});
        } else if (const auto db_error = s.db.write_error()) {
          // Generations still run, but their log rows wait in memory (and are lost if the
          // queue fills): the operator must know.
          send_json(
              res, 503,
              {{"status", "degraded"}, {"reason", "database_unavailable"}, {"error", *db_error}});
        } else {
          send_json(res, 200, {{"status", "ok"}});
        }
      },
      /*open=*/true);

  router.add(
      "GET", "/version",
      [](const httplib::Request&, httplib::Response& res, const std::smatch&) {
        send_json(res, 200, {{"version", version()}, {"revision", build_revision()}});
      },
      /*open=*/true);

  router.add("GET", "/metrics",
             [&s](const httplib::Request&, httplib::Response& res, const std::smatch&) {
               GaugeSnapshot g;
               g.queue_depth = s.scheduler.queue_depth();
               g.active_generations = s.scheduler.active();
               g.log_queue_depth = static_cast<int64_t>(s.log.depth());
               g.log_dropped = s.log.dropped();
               g.log_write_errors = s.log.failed();
               g.database_writable = !s.db.write_error();
               g.model_status = s.models.statuses();
               if (s.connection_gauges) s.connection_gauges(g);
               res.status = 200;
               res.set_content(s.metrics.render(g), "text/plain; version=0.0.4");
             });

  router.add("GET", "/v1/generations",
             [&s](const httplib::Request& req, httplib::Response& res, const std::smatch&) {
               db::GenerationQuery q;
               if (req.has_param("model")) q.model = req.get_param_value("model");
               if (req.has_param("status")) {
                 q.status = db::parse_generation_status(req.get_param_value("status"));
                 if (!q.status) {
                   throw bad_request("status",
                                     std::string("must be one of ") + db::generation_status_list());
                 }
               }
               if (req.has_param("limit")) q.limit = parse_limit(req.get_param_value("limit"));
               if (req.has_param("before")) {
                 const std::string before = req.get_param_value("before");
                 q.before_seq = s.db.generation_seq(before);
                 if (!q.before_seq)
                   throw bad_request("before", "no generation has the id '" + before + "'");
               }
               s.log.flush_for(kLogReadWait);
               bool more = false;
               json data = json::array();
               for (const auto& row : s.db.generations(q, &more))
                 data.push_back(generation_object(row));
               send_json(res, 200, {{"object", "list"}, {"data", data}, {"has_more", more}});
             });

  router.add("GET", "/v1/generations/{id}",
             [&s](const httplib::Request&, httplib::Response& res, const std::smatch& m) {
               const std::string id = m[1];
               s.log.flush_for(kLogReadWait);
               auto row = s.db.generation(id);
               if (!row) throw not_found("no generation has the id '" + id + "'", "id");
               send_json(res, 200, generation_object(*row));
             });

  router.add("POST", "/tokenize",
             [&s](const httplib::Request& req, httplib::Response& res, const std::smatch&) {
               const json body = parse_body(req.body);
               auto lm = model_of(s, body);
               std::vector<int32_t> ids;
               json out = {{"model", lm->name}};
               const bool has_text = body.contains("text"),
                          has_messages = body.contains("messages");
               if (has_text == has_messages)
                 throw bad_request("text", "give exactly one of text and messages");
               if (has_text) {
                 if (!body["text"].is_string()) throw bad_request("text", "must be a string");
                 ids = lm->tokenizer->encode(body["text"].get<std::string>(),
                                             flag(body, "add_special_tokens", true));
               } else {
                 // Same rendering as /v1/chat/completions, so counts match its prompt_tokens.
                 GenerationInput in = parse_generation_input(
                     Endpoint::kChat, {{"model", lm->name}, {"messages", body["messages"]}});
                 const std::string text = render_chat(*lm->tokenizer, *in.messages,
                                                      flag(body, "add_generation_prompt", true));
                 ids = lm->tokenizer->encode(text, false);
                 out["text"] = text;
               }
               out["ids"] = ids;
               out["count"] = ids.size();
               send_json(res, 200, out);
             });

  router.add("POST", "/detokenize",
             [&s](const httplib::Request& req, httplib::Response& res, const std::smatch&) {
               const json body = parse_body(req.body);
               auto lm = model_of(s, body);
               if (!body.contains("ids") || !body["ids"].is_array()) {
                 throw bad_request("ids", "is required (an array of token ids)");
               }
               const int vocab = lm->model->config().vocab;
               std::vector<int32_t> ids;
               for (size_t i = 0; i < body["ids"].size(); ++i) {
                 const json& v = body["ids"][i];
                 if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= vocab) {
                   throw bad_request("ids[" + std::to_string(i) + "]",
                                     "must be a token id from 0 to " + std::to_string(vocab - 1));
                 }
                 ids.push_back(v.get<int32_t>());
               }
               const std::string text =
                   lm->tokenizer->decode(ids, flag(body, "skip_special_tokens", false));
               send_json(res, 200, {{"model", lm->name}, {"text", text}});
             });
}

}  // namespace dlx::http
