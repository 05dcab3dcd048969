// Integration tests of `diffulex serve` against hostile clients and pages: sockets that stall or
// trickle (slowloris), floods of idle connections, pipelining, DNS rebinding and cross-site
// requests (CSRF).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support/sanitizer.h"
#include "tests/support/serve_harness.h"

namespace dlx::test {
namespace {

// A loopback socket that sent `prefix` and nothing more.
int stalled_socket(int port, const std::string& prefix) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return -1;
  }
  ::send(fd, prefix.data(), prefix.size(), MSG_NOSIGNAL);
  return fd;
}

// True when the server closed `fd` (recv sees EOF or a reset) within `timeout_s`.
bool closed_by_server(int fd, int timeout_s) {
  timeval tv{timeout_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char buf[256];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

TEST(HttpHardening, StalledSocketsAreClosedAfterReadTimeoutAndHealthRecovers) {
  TempDir dir;
  // max-queue 4 + workers 1 + 32 spare: 37 HTTP threads, fewer than the stalled sockets.
  ServerProcess s(dir.path(), {"--db", dir.file("serve.db"), "--models-dir", dir.path(),
                               "--max-queue", "4", "--read-timeout", "1", "--header-timeout", "1"});
  ASSERT_TRUE(s.wait_ready()) << s.stderr_text();
  std::vector<int> fds;
  for (int i = 0; i < 60; ++i) {
    const int fd = stalled_socket(s.port(), "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  int closed = 0;
  for (int fd : fds) {
    if (closed_by_server(fd, 5)) ++closed;
    ::close(fd);
  }
  EXPECT_EQ(closed, 60);
  httplib::Client c("127.0.0.1", s.port());
  c.set_read_timeout(2, 0);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = c.Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

// Everything the server sends on `fd` until it closes the connection (or `timeout_s` passes);
// *seconds gets how long that took.
std::string read_to_close(int fd, int timeout_s, double* seconds = nullptr) {
  const auto t0 = std::chrono::steady_clock::now();
  timeval tv{timeout_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;) got.append(buf, size_t(n));
  if (seconds) {
    *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return got;
}

size_t count_of(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) ++n;
  return n;
}

// Seconds a plain GET /health takes.
double health_seconds(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(10, 0);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = c.Get("/health");
  EXPECT_TRUE(r && r->status == 200);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Slowloris: sockets that send their headers a byte at a time wait without a thread, so
// /health answers at once however many there are; at --header-timeout they get a 408 and close.
TEST(HttpHardening, TricklingHeadersHoldNoThreadAndEndAtTheHeaderTimeout) {
  TempDir dir;
  // 4 + 1 + 32 = 37 connection threads, fewer than the trickling sockets.
  ServerProcess s(dir.path(), {"--db", dir.file("serve.db"), "--models-dir", dir.path(),
                               "--max-queue", "4", "--header-timeout", "3"});
  ASSERT_TRUE(s.wait_ready()) << s.stderr_text();
  const std::string request = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaa";
  std::vector<int> fds;
  for (int i = 0; i < 80; ++i) {
    const int fd = stalled_socket(s.port(), request.substr(0, 1));
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  // Trickle one byte per socket every 200 ms for 1.2 s (faster than any read timeout).
  for (size_t i = 1; i < 7; ++i) {
    for (int fd : fds) ::send(fd, request.data() + i, 1, MSG_NOSIGNAL);
    EXPECT_LT(health_seconds(s.port()), 1.0);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  int timed_out = 0;
  for (int fd : fds) {
    if (read_to_close(fd, 10).find("HTTP/1.1 408") == 0) ++timed_out;
    ::close(fd);
  }
  EXPECT_EQ(timed_out, 80);
  httplib::Client c("127.0.0.1", s.port());
  const std::string metrics = c.Get("/metrics")->body;
  EXPECT_NE(metrics.find("dlx_http_connections_closed_total{reason=\"header_timeout\"} 80"),
            std::string::npos)
      << metrics;
}

// A kept-alive connection that trickles its next request is cut at the header timeout (after
// the keep-alive idle time), and its thread is free again.
TEST(HttpHardening, TricklingTheNextRequestOnAKeptAliveConnectionEnds) {
  TempDir dir;
  ServerProcess s(dir.path(), {"--db", dir.file("serve.db"), "--models-dir", dir.path(),
                               "--header-timeout", "1", "--read-timeout", "1"});
  ASSERT_TRUE(s.wait_ready()) << s.stderr_text();
  const int fd = stalled_socket(s.port(), "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  ASSERT_GE(fd, 0);
  std::string first;
  char buf[512];
  while (first.find("\"ok\"") == std::string::npos) {  // the answer, before the next request
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    ASSERT_GT(n, 0);
    first.append(buf, size_t(n));
  }
  const std::string next = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaa";
  const auto t0 = std::chrono::steady_clock::now();
  bool cut = false;
  for (char ch : next) {
    if (::send(fd, &ch, 1, MSG_NOSIGNAL) < 0) {
      cut = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ::close(fd);
  EXPECT_EQ(count_of(first, "HTTP/1.1 200"), 1u) << first;
  EXPECT_TRUE(cut) << seconds;
  EXPECT_LT(seconds, 5.0);
}

// Over --max-connections waiting connections, the oldest waiting one is closed (with a 503),
// so new clients keep getting in.
TEST(HttpHardening, TheOldestWaitingConnectionsMakeRoom) {
  TempDir dir;
  ServerProcess s(dir.path(), {"--db", dir.file("serve.db"), "--models-dir", dir.path(),
                               "--max-connections", "10"});
  ASSERT_TRUE(s.wait_ready()) << s.stderr_text();
  std::vector<int> fds;
  for (int i = 0; i < 20; ++i) {
    fds.push_back(stalled_socket(s.port(), "GET /health HTTP/1.1\r\n"));
    ASSERT_GE(fds.back(), 0);
  }
  // The 10 oldest were closed to let the newest 10 wait.
  int closed = 0;
  for (int i = 0; i < 10; ++i) {
    if (read_to_close(fds[size_t(i)], 5).find("HTTP/1.1 503") == 0) ++closed;
  }
  EXPECT_EQ(closed, 10);
  EXPECT_LT(health_seconds(s.port()), 1.0);
  for (int fd : fds) ::close(fd);
}

// Pipelined requests: httplib 0.11 cannot keep a read-ahead request, so the first is answered
// with `Connection: close` and the connection ends at once: the client resends the rest
// (RFC 9112 9.3.2) instead of waiting for the keep-alive timeout.
TEST(HttpHardening, PipelinedRequestsEndTheConnectionAfterTheFirstAnswer) {
  TempDir dir;
  ServerProcess s(dir.path(), {"--db", dir.file("serve.db"), "--models-dir", dir.path()});
  ASSERT_TRUE(s.wait_ready()) << s.stderr_text();
  const std::string two =
      "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
      "GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  // At the start of a connection.
  int fd = stalled_socket(s.port(), two);
  ASSERT_GE(fd, 0);
  double seconds = 0;
  std::string got = read_to_close(fd, 10, &seconds);
  // While the ended connection still lingers (the client has not closed it), new clients are
  // served as usual.
  EXPECT_LT(health_seconds(s.port()), 1.0);
  ::close(fd);
  EXPECT_EQ(got.find("HTTP/1.1 200"), 0u) << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
  EXPECT_LT(seconds, 2.0);
  // After a first request answered on a kept-alive connection.
  fd = stalled_socket(s.port(), "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  ASSERT_GE(fd, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ::send(fd, two.data(), two.size(), MSG_NOSIGNAL);
  got = read_to_close(fd, 10, &seconds);
  ::close(fd);
  EXPECT_EQ(count_of(got, "HTTP/1.1 200"), 2u) << got;
  EXPECT_LT(seconds, 2.0);
  httplib::Client c("127.0.0.1", s.port());
  EXPECT_NE(
      c.Get("/metrics")->body.find("dlx_http_connections_closed_total{reason=\"pipelined\"} 2"),
      std::string::npos);
}

// DNS rebinding: a page whose name was rebound to 127.0.0.1 still sends its own name in Host.
TEST(HttpHardening, ReboundHostNamesAreRefusedUnlessAllowed) {
  TempDir dir;
  ServerProcess s(dir.path(), {"--db", dir.file("serve.db"), "--model",
                               "llada=" + model_dir("llada"), "--allowed-host", "box.lan"});
  ASSERT_TRUE(s.wait_ready()) << s.stderr_text();
  httplib::Client c("127.0.0.1", s.port());
  auto as_host = [&](const std::string& host) {
    return c.Get("/v1/generations", httplib::Headers{{"Host", host}});
  };
  auto r = as_host("evil.example:" + std::to_string(s.port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(body_json(r)["error"]["code"], "forbidden_host");
  EXPECT_NE(r->body.find("--allowed-host"), std::string::npos);
  EXPECT_EQ(as_host("localhost:" + std::to_string(s.port()))->status, 200);
  EXPECT_EQ(as_host("box.lan:" + std::to_string(s.port()))->status, 200);
  EXPECT_EQ(as_host("192.168.1.20:" + std::to_string(s.port()))->status, 200);
}

// CSRF: another site's page can neither post a form-like body nor call the API with its Origin;
// nothing changes. --cors-origin lets a named site in, with CORS headers and preflight.
TEST(HttpHardening, CrossSitePagesCannotChangeStateUnlessAllowed) {
  TempDir dir;
  ServerProcess s(dir.path(),
                  {"--db", dir.file("serve.db"), "--model", "llada=" + model_dir("llada"),
                   "--cors-origin", "https://app.example"});
  ASSERT_TRUE(s.wait_ready()) << s.stderr_text();
  httplib::Client c("127.0.0.1", s.port());
  auto unload =
      c.Post("/v1/models/llada/unload", httplib::Headers{{"Origin", "https://evil.example"}}, "",
             "application/json");
  ASSERT_TRUE(unload);
  EXPECT_EQ(unload->status, 403);
  EXPECT_EQ(body_json(unload)["error"]["code"], "forbidden_origin");
  const json chat = {
      {"model", "llada"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"max_tokens", 4}};
  auto plain = c.Post("/v1/chat/completions", chat.dump(), "text/plain");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 415);
  EXPECT_EQ(body_json(plain)["error"]["code"], "unsupported_media_type");
  EXPECT_EQ(json::parse(c.Get("/v1/generations")->body)["data"].size(), 0u);  // nothing ran
  EXPECT_EQ(json::parse(c.Get("/v1/models/llada")->body)["status"], "loaded");

  // The playground itself (same origin) and an allowed site.
  const std::string self = "http://127.0.0.1:" + std::to_string(s.port());
  auto own = c.Post("/tokenize", httplib::Headers{{"Origin", self}},
                    json({{"model", "llada"}, {"text", "hi"}}).dump(), "application/json");
  ASSERT_TRUE(own);
  EXPECT_EQ(own->status, 200) << own->body;
  auto app = c.Post("/tokenize", httplib::Headers{{"Origin", "https://app.example"}},
                    json({{"model", "llada"}, {"text", "hi"}}).dump(), "application/json");
  ASSERT_TRUE(app);
  EXPECT_EQ(app->status, 200);
  EXPECT_EQ(app->get_header_value("Access-Control-Allow-Origin"), "https://app.example");
  auto pre = c.Options("/v1/chat/completions",
                       httplib::Headers{{"Origin", "https://app.example"},
                                        {"Access-Control-Request-Method", "POST"},
                                        {"Access-Control-Request-Headers", "content-type"}});
  ASSERT_TRUE(pre);
  EXPECT_EQ(pre->status, 204);
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Origin"), "https://app.example");
}

// A chunked body over --max-body-bytes is answered 413 and ends the connection: nothing the
// client sends after it may be read as a new request. httplib 0.11 ignored the 413's
// "Connection: close" and went on parsing the connection from the middle of the rejected body,
// so bytes of that body (a chunk's data, to a proxy in front) ran as a request of their own:
// request smuggling. Found by soak_test.
TEST(HttpHardening, ChunkedBodyOverLimitEndsTheConnection) {
  TempDir dir;
  ServerProcess s(dir.path(), {"--db", dir.file("serve.db"), "--model", model_dir("llada"),
                               "--max-body-bytes", "65536"});
  ASSERT_TRUE(s.wait_ready()) << s.stderr_text();
  const std::string host = "Host: 127.0.0.1:" + std::to_string(s.port()) + "\r\n";
  // The body reaches the limit exactly with its first chunk; one more byte makes it too large.
  const std::string oversized = "POST /v1/completions HTTP/1.1\r\n" + host +
                                "Content-Type: application/json\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n"
                                "10000\r\n" +
                                std::string(65536, 'a') + "\r\n1\r\nx";
  const int fd = stalled_socket(s.port(), oversized);
  ASSERT_GE(fd, 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string got;
  char buf[4096];
  while (got.find("request_too_large") == std::string::npos) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ASSERT_EQ(got.rfind("HTTP/1.1 413", 0), 0u) << got.substr(0, 200);
  // What follows the cut, sent once the server has answered: a request of its own.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::string hidden =
      "DELETE /v1/models/llada HTTP/1.1\r\n" + host + "Connection: close\r\n\r\n";
  ::send(fd, hidden.data(), hidden.size(), MSG_NOSIGNAL);
  const size_t first = got.size();
  for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;)
    got.append(buf, static_cast<size_t>(n));
  ::close(fd);
  EXPECT_EQ(got.find("HTTP/1.1 ", first), std::string::npos)
      << "the server answered bytes sent after its 413:\n"
      << got.substr(first);
  httplib::Client c("127.0.0.1", s.port());
  auto m = c.Get("/v1/models/llada");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 200) << "the DELETE hidden after the oversized body was executed";
}

// RFC 9112 6.3: a request with neither Content-Length nor Transfer-Encoding has no body. `curl -X
// POST URL` sends exactly that; it is answered at once (not after --read-timeout with a 400), and
// the connection stays usable for the next request.
TEST(HttpHardening, RequestsWithoutLengthHaveAnEmptyBody) {
  TempDir dir;
  ServerProcess s(dir.path(), {"--db", dir.file("serve.db"), "--model", model_dir("llada"),
                               "--read-timeout", "5"});
  ASSERT_TRUE(s.wait_ready()) << s.stderr_text();
  int fd =
      stalled_socket(s.port(), "POST /v1/models/llada/load HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  ASSERT_GE(fd, 0);
  const auto t0 = std::chrono::steady_clock::now();
  std::string got;
  char buf[4096];
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  while (got.find("\r\n\r\n") == std::string::npos || got.find("}") == std::string::npos) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    got.append(buf, size_t(n));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(got.find("HTTP/1.1 200"), 0u) << got;
  EXPECT_LT(seconds, 0.25 * kTimeScale);
  // The same connection carries the next request.
  const std::string next = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  ::send(fd, next.data(), next.size(), MSG_NOSIGNAL);
  got = read_to_close(fd, 10);
  ::close(fd);
  EXPECT_EQ(got.find("HTTP/1.1 200"), 0u) << got;
  // Other methods and routes: the JSON routes see an empty body and say what is missing.
  for (const std::string& req :
       {std::string("POST /v1/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
        std::string(
            "DELETE /v1/models/nope HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")}) {
    fd = stalled_socket(s.port(), req);
    ASSERT_GE(fd, 0);
    double took = 0;
    got = read_to_close(fd, 10, &took);
    ::close(fd);
    EXPECT_TRUE(got.find("HTTP/1.1 400") == 0 || got.find("HTTP/1.1 404") == 0) << req << got;
    EXPECT_EQ(got.find("malformed"), std::string::npos) << got;
    EXPECT_LT(took, 4.0) << req << " waited for a body that was never announced";
  }
}

}  // namespace
}  // namespace dlx::test
