// Router: our own routing table on top of cpp-httplib, so that an unknown path is 404, a known
// path with the wrong method is 405 (with Allow), the request guard (Host, Origin, content type)
// and the API key are checked in one place, every exception goes through the one error
// translator, and metrics get a route label.
#pragma once

#include <httplib.h>

#include <functional>
#include <regex>
#include <string>
#include <vector>

#include "service/http/api_error.h"
#include "service/http/request_guard.h"

namespace dlx::http {

using RouteHandler =
    std::function<void(const httplib::Request&, httplib::Response&, const std::smatch&)>;

class Router {
 public:
  Router(std::vector<std::string> api_keys, GuardConfig guard)
      : api_keys_(std::move(api_keys)), guard_(std::move(guard)) {}

  // `pattern` uses {name} for one path segment, e.g. "/v1/models/{name}/load". `open`
  // routes need no API key.
  void add(const std::string& method, const std::string& pattern, RouteHandler handler,
           bool open = false);

  void dispatch(const httplib::Request& req, httplib::Response& res) const;
  // The route pattern serving this request ("unmatched" when none), for metrics labels.
  std::string label(const std::string& method, const std::string& path) const;

 private:
  struct Route {
    std::string method, pattern;
    std::regex re;
    RouteHandler handler;
    bool open;
  };
  bool authorized(const httplib::Request& req) const;

  std::vector<std::string> api_keys_;
  RequestGuard guard_;
  std::vector<Route> routes_;
};

void send_json(httplib::Response& res, int status, const nlohmann::json& body);
// Error bodies: OpenAI's {"error":{"message","type","param","code"}} everywhere but under
// /api/, where Ollama's clients read {"error":"message"}. Same statuses either way.
enum class ErrorShape { kOpenAI, kOllama };
ErrorShape error_shape_for(const std::string& path);
void send_error(httplib::Response& res, const ErrorInfo& e, ErrorShape shape = ErrorShape::kOpenAI);

}  // namespace dlx::http
