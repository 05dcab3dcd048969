// RequestGuard: what every request must satisfy before it reaches a route, against attacks that
// come through a browser rather than from a client of our own:
// - DNS rebinding: the Host header must name this server by an IP literal, `localhost` (or a
//   `*.localhost` name), or a name the operator allowed (--allowed-host). A page at evil.example
//   whose DNS answer was rebound to 127.0.0.1 still sends `Host: evil.example` and is refused.
// - CSRF: a request carrying an `Origin` must come from this server's own origin (the
//   playground) or from an origin the operator allowed (--cors-origin), which then also gets the
//   CORS headers and preflight answers.
// - Content type: a body on a JSON endpoint must be sent as application/json, so a page cannot
//   post a `text/plain` or form body without a CORS preflight.
#pragma once

#include <httplib.h>

#include <string>
#include <vector>

namespace dlx::http {

struct GuardConfig {
  // Extra names accepted in Host besides IP literals and localhost; "*" accepts any name.
  std::vector<std::string> allowed_hosts;
  // Origins allowed to call the API cross-origin ("*" = any), e.g. "https://app.example".
  std::vector<std::string> cors_origins;
};

class RequestGuard {
 public:
  explicit RequestGuard(GuardConfig cfg);

  // Throws ApiError 403 (host or origin refused) or 415 (body not JSON); for an allowed
  // cross-origin request, sets the CORS response headers.
  void check(const httplib::Request& req, httplib::Response& res) const;
  // True when `req` is a CORS preflight (OPTIONS with Origin and
  // Access-Control-Request-Method) from an allowed origin: `res` is then the full answer.
  bool answer_preflight(const httplib::Request& req, httplib::Response& res) const;

  // The pieces, for tests. `host_header` is the Host value ("name[:port]", "[v6]:port").
  bool host_allowed(const std::string& host_header) const;
  bool cross_origin_allowed(const std::string& origin) const;

 private:
  GuardConfig cfg_;
};

// "127.0.0.1:8080" -> "127.0.0.1", "[::1]:80" -> "::1", "Example.COM" -> "example.com".
std::string host_name_of(const std::string& host_header);
// True when `origin` ("scheme://host[:port]") names the same host and port as `host_header`
// (default ports of http and https are implied).
bool same_origin(const std::string& origin, const std::string& host_header);
// True for "application/json" and "application/<x>+json", with or without parameters.
bool is_json_media_type(const std::string& content_type);

}  // namespace dlx::http
