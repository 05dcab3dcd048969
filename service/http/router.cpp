#include "service/http/router.h"

#include <set>

#include "service/http/responses.h"

namespace dlx::http {
namespace {

// Compares in a time that depends only on the length of the offered key, not on where it
// differs from the real one.
bool same_secret(const std::string& offered, const std::string& key) {
  if (key.empty()) return false;
  unsigned char diff = offered.size() != key.size();
  for (size_t i = 0; i < offered.size(); ++i) {
    diff |= static_cast<unsigned char>(offered[i] ^ key[i % key.size()]);
  }
  return diff == 0;
}

}  // namespace

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(dump(body), "application/json");
}

ErrorShape error_shape_for(const std::string& path) {
  return path.rfind("/api/", 0) == 0 ? ErrorShape::kOllama : ErrorShape::kOpenAI;
}

void send_error(httplib::Response& res, const ErrorInfo& e, ErrorShape shape) {
  if (e.status == 401) res.set_header("WWW-Authenticate", "Bearer");
  if (e.retry_after_s > 0) res.set_header("Retry-After", std::to_string(e.retry_after_s));
  send_json(res, e.status,
            shape == ErrorShape::kOllama ? nlohmann::json{{"error", e.message}} : error_json(e));
}

void Router::add(const std::string& method, const std::string& pattern, RouteHandler handler,
                 bool open) {
  std::string re;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '{') {
      i = pattern.find('}', i);
      re += "([^/]+)";
    } else if (std::string("().[]*+?^$\\|").find(pattern[i]) != std::string::npos) {
      re += '\\';
      re += pattern[i];
    } else {
      re += pattern[i];
    }
  }
  routes_.push_back({method, pattern, std::regex(re), std::move(handler), open});
}

bool Router::authorized(const httplib::Request& req) const {
  if (api_keys_.empty()) return true;
  // `Authorization: Bearer KEY` (OpenAI clients) or `x-api-key: KEY` (Anthropic-style clients).
  std::string key;
  const std::string h = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  if (h.compare(0, prefix.size(), prefix) == 0) {
    key = h.substr(prefix.size());
  } else if (req.has_header("X-API-Key")) {
    key = req.get_header_value("X-API-Key");
  } else {
    return false;
  }
  bool ok = false;
  for (const auto& k : api_keys_) ok |= same_secret(key, k);
  return ok;
}

std::string Router::label(const std::string& method, const std::string& path) const {
  const std::string m = method == "HEAD" ? "GET" : method;
  for (const auto& r : routes_) {
    if (r.method == m && std::regex_match(path, r.re)) return r.pattern;
  }
  return "unmatched";
}

void Router::dispatch(const httplib::Request& req, httplib::Response& res) const {
  try {
    guard_.check(req, res);
    if (guard_.answer_preflight(req, res)) return;
    const std::string method = req.method == "HEAD" ? "GET" : req.method;
    std::set<std::string> allowed;
    for (const auto& r : routes_) {
      std::smatch m;
      if (!std::regex_match(req.path, m, r.re)) continue;
      if (r.method != method) {
        allowed.insert(r.method);
        continue;
      }
      if (!r.open && !authorized(req)) {
        throw ApiError(401, "authentication_error", "invalid_api_key",
                       req.has_header("Authorization") || req.has_header("X-API-Key")
                           ? "the API key is not valid"
                           : "this server needs an API key: send 'Authorization: Bearer KEY'");
      }
      r.handler(req, res, m);
      return;
    }
    if (!allowed.empty()) {
      std::string allow;
      for (const auto& a : allowed) allow += (allow.empty() ? "" : ", ") + a;
      res.set_header("Allow", allow);
      throw ApiError(405, "invalid_request_error", "method_not_allowed",
                     req.method + " is not allowed on " + req.path + " (allowed: " + allow + ")");
    }
    throw ApiError(404, "not_found_error", "unknown_route",
                   "no route for " + req.method + " " + req.path);
  } catch (...) {
    send_error(res, to_error_info(std::current_exception()), error_shape_for(req.path));
  }
}

}  // namespace dlx::http
