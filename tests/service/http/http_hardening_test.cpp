// Integration tests of `diffulex serve` against hostile clients: sockets that send part of a
// request and then stall must not keep the HTTP threads (--read-timeout closes them).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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
                               "--max-queue", "4", "--read-timeout", "1"});
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

// Two requests in one write on a keep-alive connection: both are answered, in order.
// DISABLED: fails today (no second "HTTP/1.1 404" seen within 5 s). Cause: httplib 0.11 makes
// a new SocketStream, with a new read buffer, for each request of a keep-alive connection, so
// the second request, read ahead together with the first, is dropped and the server waits for
// bytes that never come. The same two requests sent 0.3 s apart are both answered.
TEST(HttpHardening, DISABLED_PipelinedRequestsAreAnsweredInOrder) {
  TempDir dir;
  ServerProcess s(dir.path(), {"--db", dir.file("serve.db"), "--models-dir", dir.path()});
  ASSERT_TRUE(s.wait_ready()) << s.stderr_text();
  const int fd =
      stalled_socket(s.port(),
                     "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                     "GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  ASSERT_GE(fd, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;)
    got.append(buf, static_cast<size_t>(n));
  ::close(fd);
  const auto first = got.find("HTTP/1.1 200");
  const auto second = got.find("HTTP/1.1 404");
  ASSERT_NE(first, std::string::npos) << got;
  ASSERT_NE(second, std::string::npos) << got;
  EXPECT_LT(first, second);
}

}  // namespace
}  // namespace dlx::test

namespace dlx::test {
namespace {

// A chunked body over --max-body-bytes is answered 413 and ends the connection (README,
// "Security and limits"): nothing the client sends after it may be read as a new request.
// Fails today: the 413's "Connection: close" header does not close httplib's keep-alive loop,
// so the server goes on parsing the connection from the middle of the rejected body. Bytes of
// that body (a chunk's data, to a proxy in front) then run as a request of their own: request
// smuggling. Here the rest of the body is sent after the 413 (httplib drops bytes it had
// already buffered for the finished request, so the timing decides what it parses; inside one
// write the same happens at a fixed offset). Found by soak_test, whose chunked 413s are
// followed by "414 URI Too Long" answers to the rest of their bodies.
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

}  // namespace
}  // namespace dlx::test
