// Routes of the model registry: list, show, register (inside --models-dir only), delete,
// load, unload.
#include "engine/decode/decode_keys.h"
#include "engine/engine.h"
#include "engine/util/error.h"
#include "service/http/generation_request.h"
#include "service/http/responses.h"
#include "service/http/service.h"

namespace dlx::http {
namespace {

using nlohmann::json;

void refuse_when_draining(const Service& s) {
  if (s.draining) {
    throw ApiError(503, "service_unavailable", "shutting_down", "the server is shutting down");
  }
}

}  // namespace

void add_model_routes(Router& router, Service& s) {
  router.add("GET", "/v1/models",
             [&s](const httplib::Request&, httplib::Response& res, const std::smatch&) {
               json data = json::array();
               for (const auto& row : s.models.list())
                 data.push_back(model_object(row, s.cfg.models_dir));
               send_json(res, 200, {{"object", "list"}, {"data", data}});
             });

  router.add("GET", "/v1/models/{name}",
             [&s](const httplib::Request&, httplib::Response& res, const std::smatch& m) {
               const db::ModelRow row = s.models.info(m[1]);
               json body = model_object(row, s.cfg.models_dir);
               // The form a client builds: the key table and this model's defaults (null
               // when its files can no longer be read; the row's error says why).
               body["diffusion_schema"] = decode_key_schema();
               try {
                 const ModelInfo info = describe_model(row.path);
                 body["diffusion_defaults"] = to_json(info.decoding);
                 body["has_chat_template"] = info.has_chat_template;
               } catch (const dlx::Error&) {
                 body["diffusion_defaults"] = nullptr;
                 body["has_chat_template"] = nullptr;
               }
               send_json(res, 200, body);
             });

  router.add("POST", "/v1/models",
             [&s](const httplib::Request& req, httplib::Response& res, const std::smatch&) {
               refuse_when_draining(s);
               const json body = parse_body(req.body);
               for (auto it = body.begin(); it != body.end(); ++it) {
                 if (it.key() != "name" && it.key() != "path") {
                   throw bad_request(it.key(), "unknown key (expected name and path)");
                 }
               }
               if (!body.contains("name") || !body["name"].is_string()) {
                 throw bad_request("name", "is required (a string)");
               }
               if (!body.contains("path") || !body["path"].is_string()) {
                 throw bad_request("path", "is required (a folder inside --models-dir)");
               }
               send_json(res, 201,
                         model_object(s.models.register_model(body["name"], body["path"]),
                                      s.cfg.models_dir));
             });

  router.add("DELETE", "/v1/models/{name}",
             [&s](const httplib::Request&, httplib::Response& res, const std::smatch& m) {
               const std::string name = m[1];
               s.models.remove(name);
               send_json(res, 200, {{"id", name}, {"object", "model"}, {"deleted", true}});
             });

  router.add("POST", "/v1/models/{name}/load",
             [&s](const httplib::Request&, httplib::Response& res, const std::smatch& m) {
               refuse_when_draining(s);
               send_json(res, 200, model_object(s.models.load(m[1]), s.cfg.models_dir));
             });

  router.add("POST", "/v1/models/{name}/unload",
             [&s](const httplib::Request&, httplib::Response& res, const std::smatch& m) {
               send_json(res, 200, model_object(s.models.unload(m[1]), s.cfg.models_dir));
             });
}

}  // namespace dlx::http
