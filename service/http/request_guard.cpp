#include "service/http/request_guard.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

#include "service/http/api_error.h"

namespace dlx::http {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  const size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// Splits "name[:port]" / "[v6][:port]" into host (lowercase, no brackets) and port ("" if none).
void split_authority(const std::string& authority, std::string* host, std::string* port) {
  const std::string a = lower(trim(authority));
  host->clear();
  port->clear();
  if (!a.empty() && a[0] == '[') {
    const size_t close = a.find(']');
    if (close == std::string::npos) {
      *host = a;
      return;
    }
    *host = a.substr(1, close - 1);
    if (close + 1 < a.size() && a[close + 1] == ':') *port = a.substr(close + 2);
    return;
  }
  const size_t colon = a.find(':');
  if (colon != std::string::npos && a.find(':', colon + 1) == std::string::npos) {
    *host = a.substr(0, colon);
    *port = a.substr(colon + 1);
  } else {
    *host = a;  // no port, or a bare IPv6 literal
  }
  if (!host->empty() && host->back() == '.') host->pop_back();  // "localhost." is "localhost"
}

bool is_ip_literal(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

bool is_localhost_name(const std::string& host) {
  const std::string suffix = ".localhost";
  return host == "localhost" ||
         (host.size() > suffix.size() &&
          host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0);
}

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

std::string host_name_of(const std::string& host_header) {
  std::string host, port;
  split_authority(host_header, &host, &port);
  return host;
}

bool same_origin(const std::string& origin, const std::string& host_header) {
  const std::string o = lower(trim(origin));
  const size_t sep = o.find("://");
  if (sep == std::string::npos) return false;  // "null" and other opaque origins
  const std::string scheme = o.substr(0, sep);
  if (scheme != "http" && scheme != "https") return false;
  const std::string default_port = scheme == "https" ? "443" : "80";
  std::string o_host, o_port, h_host, h_port;
  split_authority(o.substr(sep + 3), &o_host, &o_port);
  split_authority(host_header, &h_host, &h_port);
  if (o_port.empty()) o_port = default_port;
  if (h_port.empty()) h_port = default_port;
  return !o_host.empty() && o_host == h_host && o_port == h_port;
}

bool is_json_media_type(const std::string& content_type) {
  std::string t = lower(trim(content_type.substr(0, content_type.find(';'))));
  if (t == "application/json") return true;
  const std::string prefix = "application/", suffix = "+json";
  return t.size() > prefix.size() + suffix.size() && t.compare(0, prefix.size(), prefix) == 0 &&
         t.compare(t.size() - suffix.size(), suffix.size(), suffix) == 0;
}

RequestGuard::RequestGuard(GuardConfig cfg) : cfg_(std::move(cfg)) {
  for (auto& h : cfg_.allowed_hosts) h = host_name_of(h);
  for (auto& o : cfg_.cors_origins) {
    o = lower(trim(o));
    while (!o.empty() && o.back() == '/') o.pop_back();  // "https://a.example/" names the origin
  }
}

bool RequestGuard::host_allowed(const std::string& host_header) const {
  const std::string host = host_name_of(host_header);
  return is_ip_literal(host) || is_localhost_name(host) || contains(cfg_.allowed_hosts, "*") ||
         contains(cfg_.allowed_hosts, host);
}

bool RequestGuard::cross_origin_allowed(const std::string& origin) const {
  return contains(cfg_.cors_origins, "*") || contains(cfg_.cors_origins, lower(trim(origin)));
}

void RequestGuard::check(const httplib::Request& req, httplib::Response& res) const {
  // HTTP/1.0 clients may omit Host; browsers never do, so a missing Host is no rebinding.
  const std::string host = req.get_header_value("Host");
  if (req.has_header("Host") && !host_allowed(host)) {
    const std::string name = host_name_of(host);
    throw ApiError(403, "permission_error", "forbidden_host",
                   "requests for host '" + name +
                       "' are refused (DNS-rebinding protection): use an IP address or "
                       "localhost, or start the server with --allowed-host " +
                       name + " (or DIFFULEX_ALLOWED_HOSTS)");
  }
  if (req.has_header("Origin")) {
    const std::string origin = req.get_header_value("Origin");
    if (!same_origin(origin, host)) {
      if (!cross_origin_allowed(origin)) {
        throw ApiError(403, "permission_error", "forbidden_origin",
                       "cross-origin request from '" + origin +
                           "' refused (CSRF protection): open the playground from this server, "
                           "or start the server with --cors-origin " +
                           origin + " to let that site call the API");
      }
      res.set_header("Access-Control-Allow-Origin", origin);
      res.set_header("Vary", "Origin");
      res.set_header("Access-Control-Expose-Headers", "Retry-After");
    }
  }
  const bool has_body_method = req.method == "POST" || req.method == "PUT" || req.method == "PATCH";
  // Ollama's documentation and clients send `curl -d '{...}'` (a form content type) to /api/.
  // A page in a browser cannot send a cross-site POST without an Origin header, so bodies
  // without one are read as JSON there whatever their content type.
  const bool ollama_client = req.path.rfind("/api/", 0) == 0 && !req.has_header("Origin");
  if (has_body_method && !req.body.empty() && !ollama_client &&
      !is_json_media_type(req.get_header_value("Content-Type"))) {
    const std::string sent = req.get_header_value("Content-Type");
    throw ApiError(415, "invalid_request_error", "unsupported_media_type",
                   "the body must be sent as Content-Type: application/json (got " +
                       (sent.empty() ? std::string("none") : "'" + sent + "'") +
                       "); with curl use --json or -H 'Content-Type: application/json'");
  }
}

bool RequestGuard::answer_preflight(const httplib::Request& req, httplib::Response& res) const {
  if (req.method != "OPTIONS" || !req.has_header("Origin") ||
      !req.has_header("Access-Control-Request-Method")) {
    return false;
  }
  const std::string origin = req.get_header_value("Origin");
  if (!cross_origin_allowed(origin)) return false;
  res.status = 204;
  res.set_header("Access-Control-Allow-Origin", origin);
  res.set_header("Vary", "Origin");
  res.set_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
  res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type, X-API-Key");
  res.set_header("Access-Control-Max-Age", "600");
  return true;
}

}  // namespace dlx::http
