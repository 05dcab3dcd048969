// Unit tests of what a request must satisfy before routing (Host, Origin, content type) and of
// how the connection gate reads the bytes a client sent (header block complete, pipelining).
#include "service/http/request_guard.h"

#include <gtest/gtest.h>

#include "service/http/api_error.h"
#include "service/http/connection_gate.h"

namespace dlx::http {
namespace {

httplib::Request request(const std::string& method, httplib::Headers headers,
                         const std::string& body = "") {
  httplib::Request r;
  r.method = method;
  r.path = "/v1/generate";
  r.headers = std::move(headers);
  r.body = body;
  return r;
}

// The status and code `check` answers (200 / "" when it lets the request through).
std::pair<int, std::string> verdict(const RequestGuard& g, const httplib::Request& req,
                                    httplib::Response* out = nullptr) {
  httplib::Response res;
  try {
    g.check(req, res);
  } catch (const ApiError& e) {
    return {e.status(), e.code()};
  }
  if (out) *out = res;
  return {200, ""};
}

TEST(RequestGuard, HostMustBeAnIpLiteralLocalhostOrAllowed) {
  const RequestGuard g(GuardConfig{{"box.lan"}, {}});
  for (const char* ok :
       {"127.0.0.1", "127.0.0.1:8080", "[::1]:8080", "::1", "10.1.2.3:80", "localhost",
        "LOCALHOST:8080", "localhost.", "app.localhost:3000", "box.lan", "Box.LAN:8080"}) {
    EXPECT_TRUE(g.host_allowed(ok)) << ok;
  }
  for (const char* bad : {"evil.example", "evil.example:8080", "localhost.evil.example",
                          "127.0.0.1.nip.io", "box.lan.evil", ""}) {
    EXPECT_FALSE(g.host_allowed(bad)) << bad;
  }
  EXPECT_TRUE(RequestGuard(GuardConfig{{"*"}, {}}).host_allowed("anything.example"));
}

TEST(RequestGuard, RebindingAndCrossOriginRequestsAreRefused) {
  const RequestGuard g(GuardConfig{});
  EXPECT_EQ(verdict(g, request("GET", {{"Host", "evil.example:8080"}})),
            std::make_pair(403, std::string("forbidden_host")));
  // A missing Host (HTTP/1.0 tools) is no browser, so no rebinding.
  EXPECT_EQ(verdict(g, request("GET", {})).first, 200);
  // The playground posts with its own origin.
  EXPECT_EQ(verdict(g, request("POST",
                               {{"Host", "127.0.0.1:8080"},
                                {"Origin", "http://127.0.0.1:8080"},
                                {"Content-Type", "application/json"}},
                               "{}"))
                .first,
            200);
  EXPECT_EQ(verdict(g, request("POST",
                               {{"Host", "127.0.0.1:8080"},
                                {"Origin", "https://evil.example"},
                                {"Content-Type", "application/json"}},
                               "{}")),
            std::make_pair(403, std::string("forbidden_origin")));
  EXPECT_EQ(verdict(g, request("POST", {{"Host", "127.0.0.1:8080"}, {"Origin", "null"}})).first,
            403);
  // Same host, other port: another origin.
  EXPECT_EQ(
      verdict(g, request("GET", {{"Host", "127.0.0.1:8080"}, {"Origin", "http://127.0.0.1:9999"}}))
          .first,
      403);
}

TEST(RequestGuard, AllowedCorsOriginsGetHeadersAndPreflight) {
  const RequestGuard g(GuardConfig{{}, {"https://app.example/"}});
  httplib::Response res;
  const auto req = request("POST",
                           {{"Host", "127.0.0.1:8080"},
                            {"Origin", "https://app.example"},
                            {"Content-Type", "application/json"}},
                           "{}");
  EXPECT_EQ(verdict(g, req, &res).first, 200);
  EXPECT_EQ(res.get_header_value("Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_EQ(res.get_header_value("Vary"), "Origin");

  auto pre = request("OPTIONS", {{"Host", "127.0.0.1:8080"},
                                 {"Origin", "https://app.example"},
                                 {"Access-Control-Request-Method", "POST"}});
  httplib::Response pre_res;
  ASSERT_TRUE(g.answer_preflight(pre, pre_res));
  EXPECT_EQ(pre_res.status, 204);
  EXPECT_NE(pre_res.get_header_value("Access-Control-Allow-Headers").find("Authorization"),
            std::string::npos);
  pre.headers.erase("Origin");
  pre.headers.emplace("Origin", "https://other.example");
  httplib::Response other;
  EXPECT_FALSE(g.answer_preflight(pre, other));
  EXPECT_TRUE(RequestGuard(GuardConfig{{}, {"*"}}).cross_origin_allowed("https://x.example"));
}

TEST(RequestGuard, JsonBodiesMustSayTheyAreJson) {
  const RequestGuard g(GuardConfig{});
  const httplib::Headers host = {{"Host", "127.0.0.1"}};
  auto with_type = [&](const std::string& type) {
    httplib::Headers h = host;
    if (!type.empty()) h.emplace("Content-Type", type);
    return request("POST", h, "{\"model\":\"m\"}");
  };
  for (const char* ok : {"application/json", "application/json; charset=utf-8", "Application/JSON",
                         "application/vnd.api+json"}) {
    EXPECT_EQ(verdict(g, with_type(ok)).first, 200) << ok;
  }
  for (const char* bad : {"text/plain", "application/x-www-form-urlencoded",
                          "multipart/form-data; boundary=x", "", "application/jsonp"}) {
    EXPECT_EQ(verdict(g, with_type(bad)),
              std::make_pair(415, std::string("unsupported_media_type")))
        << bad;
  }
  // No body (POST /v1/models/NAME/load) needs no type.
  EXPECT_EQ(verdict(g, request("POST", host)).first, 200);
  // Ollama's clients and docs send `curl -d` (a form type) to /api/: read as JSON there, unless
  // a browser page sent it (a browser's cross-site POST always carries Origin).
  httplib::Request ollama = with_type("application/x-www-form-urlencoded");
  ollama.path = "/api/generate";
  EXPECT_EQ(verdict(g, ollama).first, 200);
  ollama.headers.emplace("Origin", "http://127.0.0.1");
  EXPECT_EQ(verdict(g, ollama), std::make_pair(415, std::string("unsupported_media_type")));
}

TEST(RequestGuard, OriginAndHostParsing) {
  EXPECT_EQ(host_name_of("[::1]:8080"), "::1");
  EXPECT_EQ(host_name_of(" Example.COM:80 "), "example.com");
  EXPECT_TRUE(same_origin("http://localhost", "localhost:80"));
  EXPECT_TRUE(same_origin("https://example.com", "example.com"));
  EXPECT_TRUE(same_origin("http://[::1]:8080", "[::1]:8080"));
  EXPECT_FALSE(same_origin("https://example.com", "example.com:80"));
  EXPECT_FALSE(same_origin("file://", "localhost"));
  EXPECT_TRUE(is_json_media_type("application/problem+json"));
  EXPECT_FALSE(is_json_media_type("text/json+plain"));
}

PeekedRequests peek(const std::string& s) {
  return inspect_peeked(s.data(), s.size());
}

TEST(ConnectionGate, ReadsHeaderBlocksAndPipelining) {
  EXPECT_FALSE(peek("GET / HTTP/1.1\r\nHost: a\r\n").first_complete);
  EXPECT_FALSE(peek("GET / HTTP/1.1").first_complete);
  EXPECT_TRUE(peek("GET / HTTP/1.1\r\nHost: a\r\n\r\n").first_complete);
  EXPECT_TRUE(peek("GET / HTTP/1.1\nHost: a\n\n").first_complete);  // bare LF, as httplib allows
  EXPECT_TRUE(peek("\r\nGET / HTTP/1.1\r\n\r\n").first_complete);   // leading empty line
  EXPECT_FALSE(peek("GET / HTTP/1.1\r\n\r\n").more_after_first);
  EXPECT_TRUE(peek("GET / HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n").more_after_first);
  // The body belongs to the first request; bytes after it are the next one.
  EXPECT_FALSE(peek("POST / HTTP/1.1\r\ncontent-length: 4\r\n\r\nabcd").more_after_first);
  EXPECT_FALSE(peek("POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab").more_after_first);
  EXPECT_TRUE(peek("POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcdGET").more_after_first);
  // A chunked body's end is unknown: never called pipelined.
  EXPECT_FALSE(
      peek("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\nGET")
          .more_after_first);
}

TEST(ConnectionGate, EstimatesTheBytesARequestTookOnTheWire) {
  const std::string wire =
      "POST /tokenize HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 11\r\n\r\n{\"text\":1 }";
  httplib::Request r;
  r.method = "POST";
  r.target = "/tokenize";
  r.version = "HTTP/1.1";
  r.headers = {{"Host", "127.0.0.1:8080"}, {"Content-Length", "11"}, {"REMOTE_ADDR", "1.2.3.4"}};
  EXPECT_EQ(estimated_wire_bytes(r), wire.size());  // body read by a content reader: not in r
  r.body = "{\"text\":1 }";
  EXPECT_EQ(estimated_wire_bytes(r), wire.size());
}

}  // namespace
}  // namespace dlx::http
