// Ollama-compatible routes, so the clients people already run against local models (Open
// WebUI, editor plugins, ollama-python / ollama-js) can talk to a diffusion model:
// GET /api/version, /api/tags, /api/ps; POST /api/show, /api/generate, /api/chat. Generation
// goes through the same validation, queue and workers as every other route; errors answer
// Ollama's {"error": "..."} with the same statuses (router.h, ErrorShape).
#include "engine/util/error.h"
#include "engine/util/version.h"
#include "service/http/api_error.h"
#include "service/http/generation_request.h"
#include "service/http/json_fields.h"
#include "service/http/ollama_request.h"
#include "service/http/ollama_responses.h"
#include "service/http/responses.h"
#include "service/http/service.h"

namespace dlx::http {
namespace {

using nlohmann::json;

// The loaded models: the ones that answer (a registered but unloaded model would not).
json loaded_models(const Service& s) {
  json models = json::array();
  for (const auto& row : s.models.list()) {
    if (row.status == db::ModelStatus::kLoaded) models.push_back(ollama_tag(row));
  }
  return models;
}

void generate_route(Service& s, Endpoint ep, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req.body);
  if (ollama_load_only(ep, body)) {
    // Clients send this to preload a model: answer once it is there.
    if (!body.contains("model")) throw bad_request("model", "is required");
    const auto lm = s.models.acquire(ollama_model_name(get_string(body["model"], "model")));
    send_json(res, 200, ollama_load_answer(ep, lm->name));
    return;
  }
  handle_generation(s, ep, req, res);
}

}  // namespace

void add_ollama_routes(Router& router, Service& s) {
  router.add("GET", "/api/version",
             [](const httplib::Request&, httplib::Response& res, const std::smatch&) {
               send_json(res, 200, {{"version", dlx::version()}});
             });

  router.add("GET", "/api/tags",
             [&s](const httplib::Request&, httplib::Response& res, const std::smatch&) {
               send_json(res, 200, {{"models", loaded_models(s)}});
             });

  // Running models: every loaded model stays loaded until unloaded, so no expiry.
  router.add("GET", "/api/ps",
             [&s](const httplib::Request&, httplib::Response& res, const std::smatch&) {
               json models = loaded_models(s);
               for (auto& m : models) {
                 m["expires_at"] = "9999-12-31T23:59:59.000Z";
                 m["size_vram"] = 0;
               }
               send_json(res, 200, {{"models", models}});
             });

  router.add("POST", "/api/show",
             [&s](const httplib::Request& req, httplib::Response& res, const std::smatch&) {
               const json body = parse_body(req.body);
               // "model" (current clients) or "name" (older ones); "verbose" changes nothing.
               for (auto it = body.begin(); it != body.end(); ++it) {
                 if (it.key() != "model" && it.key() != "name" && it.key() != "verbose") {
                   throw bad_request(it.key(), "unknown key (expected model)");
                 }
               }
               const char* key = body.contains("model") ? "model" : "name";
               if (!body.contains(key)) throw bad_request("model", "is required");
               const std::string name = ollama_model_name(get_string(body[key], key));
               const auto lm = s.models.acquire(name);
               send_json(res, 200, ollama_show(s.models.info(lm->name), *lm));
             });

  const std::pair<const char*, Endpoint> routes[] = {{"/api/generate", Endpoint::kOllamaGenerate},
                                                     {"/api/chat", Endpoint::kOllamaChat}};
  for (const auto& [path, ep] : routes) {
    router.add("POST", path,
               [&s, ep = ep](const httplib::Request& req, httplib::Response& res,
                             const std::smatch&) { generate_route(s, ep, req, res); });
  }
}

}  // namespace dlx::http
