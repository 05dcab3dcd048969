#include "service/http/web_routes.h"

#include <httplib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "engine/util/error.h"
#include "service/http/api_error.h"
#include "service/http/web_assets.h"

namespace dlx::http {
namespace {

// The page may load only from this server: no CDN, fonts or beacons, even by accident.
constexpr const char* kPagePolicy =
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

// FNV-1a 64: a content hash for the ETag (not a security boundary, only change detection).
std::string content_etag(std::string_view data) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[24];
  std::snprintf(buf, sizeof(buf), "\"%016llx\"", static_cast<unsigned long long>(h));
  return buf;
}

// If-None-Match: a list of (possibly weak) ETags, or "*".
bool etag_matches(const std::string& if_none_match, const std::string& etag) {
  std::stringstream ss(if_none_match);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const size_t b = item.find_first_not_of(" \t");
    if (b == std::string::npos) continue;
    std::string tag = item.substr(b, item.find_last_not_of(" \t") + 1 - b);
    if (tag == "*") return true;
    if (tag.rfind("W/", 0) == 0) tag = tag.substr(2);
    if (tag == etag) return true;
  }
  return false;
}

void send_asset(const httplib::Request& req, httplib::Response& res, const std::string& name,
                std::string_view data, const std::string& etag, std::string_view type) {
  res.set_header("ETag", etag);
  // Revalidate on every load (the names are not versioned), answered by a body-less 304.
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Content-Type-Options", "nosniff");
  if (name == "index.html") {
    res.set_header("Content-Security-Policy", kPagePolicy);
    res.set_header("Referrer-Policy", "no-referrer");
  }
  if (req.has_header("If-None-Match") &&
      etag_matches(req.get_header_value("If-None-Match"), etag)) {
    res.status = 304;
    return;
  }
  res.status = 200;
  res.set_content(data.data(), data.size(), std::string(type).c_str());
}

// Each embedded file, plus "/" for index.html.
void add_embedded(Router& router) {
  for (const EmbeddedFile& a : embedded_web_assets()) {
    const auto type = web_content_type(a.path);
    if (!type) continue;
    const std::string name(a.path);
    auto handler = [name, data = a.data, etag = content_etag(a.data), type = *type](
                       const httplib::Request& req, httplib::Response& res, const std::smatch&) {
      send_asset(req, res, name, data, etag, type);
    };
    router.add("GET", "/" + name, handler, /*open=*/true);
    if (name == "index.html") router.add("GET", "/", handler, /*open=*/true);
  }
}

// The folder's files of served types as of now; contents are read per request, so edits show
// on reload (new files need a restart).
void add_disk(Router& router, const std::string& web_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_regular_file(fs::path(web_dir) / "index.html", ec)) {
    throw Error(
        ErrorCode::kInvalidArgument,
        "--web-dir: '" + web_dir + "' has no index.html (pass the repository's web/ folder)",
        "web-dir");
  }
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(web_dir)) {
    const std::string name = entry.path().filename().string();
    // Plain names only: they become route patterns, where braces would mean a parameter.
    const bool plain = name.find_first_not_of(
                           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") ==
                       std::string::npos;
    if (plain && entry.is_regular_file() && web_content_type(name)) names.push_back(name);
  }
  for (const std::string& name : names) {
    const fs::path file = fs::path(web_dir) / name;
    auto handler = [name, file](const httplib::Request& req, httplib::Response& res,
                                const std::smatch&) {
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        throw ApiError(404, "not_found_error", "not_found",
                       "the playground file " + file.string() + " is gone (--web-dir)");
      }
      std::stringstream ss;
      ss << in.rdbuf();
      const std::string data = ss.str();
      send_asset(req, res, name, data, content_etag(data), *web_content_type(name));
    };
    router.add("GET", "/" + name, handler, /*open=*/true);
    if (name == "index.html") router.add("GET", "/", handler, /*open=*/true);
  }
}

}  // namespace

std::optional<std::string_view> web_content_type(std::string_view name) {
  static const std::map<std::string_view, std::string_view> kTypes = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
  };
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const auto it = kTypes.find(name.substr(dot));
  if (it == kTypes.end()) return std::nullopt;
  return it->second;
}

void add_web_routes(Router& router, const std::string& web_dir) {
  if (web_dir.empty()) {
    add_embedded(router);
  } else {
    add_disk(router, web_dir);
  }
}

}  // namespace dlx::http
