// Harness for the HTTP service tests: starts the real `diffulex serve` binary on 127.0.0.1 with
// a free port (--port 0, read back from its first output line) and a temporary database, plus
// an SSE parser and a raw-socket client that can disconnect mid-stream.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_util.h"

extern char** environ;

namespace dlx::test {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Polls `done` every 10 ms until it returns true or `timeout` passes; returns its last value.
inline bool poll_until(const std::function<bool()>& done,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto until = Clock::now() + timeout;
  while (Clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// A temporary folder, removed with its contents at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "dlx_serve_XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

class ServerProcess {
 public:
  // `args` follow `diffulex serve`; stdout/stderr go to files in `dir`. `env` entries are
  // added to (or, with an empty value, removed from) the environment.
  ServerProcess(const std::string& dir, std::vector<std::string> args,
                std::map<std::string, std::string> env = {})
      : out_(dir + "/serve." + std::to_string(++counter()) + ".out"), err_(out_ + ".err") {
    std::vector<std::string> argv_s = {binary(), "serve", "--host", "127.0.0.1", "--port", "0"};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_s;
    for (char** e = environ; *e; ++e) {
      const std::string kv = *e;
      if (!env.count(kv.substr(0, kv.find('=')))) env_s.push_back(kv);
    }
    for (const auto& [k, v] : env) {
      if (!v.empty()) env_s.push_back(k + "=" + v);
    }
    if (!env.count("DIFFULEX_API_KEY")) {
      std::erase_if(env_s,
                    [](const std::string& kv) { return kv.rfind("DIFFULEX_API_KEY=", 0) == 0; });
    }
    std::vector<char*> envp;
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("cannot start " + binary());
  }

  ~ServerProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    check_sanitizer_report();
  }

  // Waits for the "listening on" line and then for /health to answer 200.
  bool wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    const bool bound = poll_until(
        [&] {
          const std::string out = read_file(out_);
          const auto at = out.find("listening on http://127.0.0.1:");
          if (at == std::string::npos) return exited();
          port_ = std::atoi(out.c_str() + at + std::strlen("listening on http://127.0.0.1:"));
          return true;
        },
        timeout);
    if (!bound || port_ <= 0) return false;
    return poll_until(
               [&] {
                 if (exited()) return true;
                 httplib::Client c("127.0.0.1", port_);
                 auto r = c.Get("/health");
                 return r && r->status == 200;
               },
               timeout) &&
           !exited();
  }

  int port() const { return port_; }
  // -1 once the process has been reaped: signal it with signal(), not kill(pid(), ...).
  pid_t pid() const { return pid_; }
  std::string stderr_text() const { return read_file(err_); }

  // SIGTERM, then waits for the exit; returns the exit code (-1: killed by a signal).
  // A server that already exited is not signalled: kill(-1, ...) would signal every process
  // we may (the test runner, CI, the shell), and kill(0, ...) our own process group.
  int terminate(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    signal(SIGTERM);
    return wait_exit(timeout);
  }
  void kill9() {
    signal(SIGKILL);
    wait_exit(std::chrono::seconds(10));
  }
  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  int wait_exit(std::chrono::milliseconds timeout) {
    poll_until([&] { return exited(); }, timeout);
    if (!exited()) {
      signal(SIGKILL);
      ::waitpid(pid_, &status_, 0);
      pid_ = -1;
      return -2;
    }
    check_sanitizer_report();
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
  }

 private:
  // In a sanitizer build (scripts/sanitize.sh) the server aborts at its first report, which
  // fails the request in flight; a report near the end of a test (the response already sent,
  // or at exit) fails the test here, from the server's stderr.
  void check_sanitizer_report() {
    if (sanitizer_checked_) return;
    sanitizer_checked_ = true;
    const std::string err = read_file(err_);
    for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                               "WARNING: ThreadSanitizer", "runtime error: "}) {
      const size_t at = err.find(marker);
      if (at == std::string::npos) continue;
      const size_t line = err.rfind('\n', at);
      ADD_FAILURE() << "diffulex serve reported a sanitizer error (" << err_ << "):\n"
                    << err.substr(line == std::string::npos ? 0 : line + 1, 4000);
      return;
    }
  }

  bool exited() {
    if (pid_ <= 0) return true;
    if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
      pid_ = -1;
      return true;
    }
    return false;
  }
  static int& counter() {
    static int n = 0;
    return n;
  }

  std::string out_, err_;
  pid_t pid_ = -1;
  int status_ = 0;
  int port_ = 0;
  bool sanitizer_checked_ = false;
};

struct SseEvent {
  std::string event;  // "" when the event has no event: line
  std::string data;
};

// Splits an SSE byte stream into events (fields "event" and "data"; comments ignored).
inline std::vector<SseEvent> parse_sse(const std::string& body) {
  std::vector<SseEvent> out;
  size_t pos = 0;
  while (true) {
    const size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) break;
    SseEvent e;
    size_t line = pos;
    while (line < end) {
      size_t nl = body.find('\n', line);
      if (nl == std::string::npos || nl > end) nl = end;
      const std::string l = body.substr(line, nl - line);
      if (l.rfind("event: ", 0) == 0)
        e.event = l.substr(7);
      else if (l.rfind("data: ", 0) == 0)
        e.data += l.substr(6);
      line = nl + 1;
    }
    out.push_back(std::move(e));
    pos = end + 2;
  }
  return out;
}

// A raw HTTP/1.1 connection: sends one request, reads what arrives, closes when told to, so a
// test can disconnect in the middle of a response.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      throw std::runtime_error("connect failed");
    }
    timeval tv{0, 100 * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~RawClient() { close(); }

  void post(const std::string& path, const std::string& body) {
    const std::string req = "POST " + path +
                            " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                            "Content-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body;
    ::send(fd_, req.data(), req.size(), MSG_NOSIGNAL);
  }
  void get(const std::string& path) {
    const std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    ::send(fd_, req.data(), req.size(), MSG_NOSIGNAL);
  }
  // Reads until `received` contains `needle` (or the timeout passes).
  bool read_until(const std::string& needle,
                  std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    const auto until = Clock::now() + timeout;
    while (received.find(needle) == std::string::npos && Clock::now() < until) {
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n == 0) return false;
      if (n > 0) received.append(buf, static_cast<size_t>(n));
    }
    return received.find(needle) != std::string::npos;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  std::string received;

 private:
  int fd_ = -1;
};

}  // namespace dlx::test

namespace dlx::test {

inline httplib::Result post_json(httplib::Client& c, const std::string& path, const json& body,
                                 const httplib::Headers& headers = {}) {
  return c.Post(path.c_str(), headers, body.dump(), "application/json");
}

inline json body_json(const httplib::Result& r) {
  return json::parse(r->body);
}

// True when `j` is the service's one error shape.
inline bool is_error_shape(const json& j) {
  if (!j.is_object() || !j.contains("error") || j.size() != 1) return false;
  const json& e = j["error"];
  return e.is_object() && e.size() == 4 && e["message"].is_string() && e["type"].is_string() &&
         (e["param"].is_string() || e["param"].is_null()) && e["code"].is_string();
}

// POSTs and collects a streamed (SSE) body; *status gets the HTTP status.
inline std::string post_stream(httplib::Client& c, const std::string& path, const json& body,
                               int* status) {
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  std::string out;
  req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
    out.append(d, n);
    return true;
  };
  auto res = c.send(req);
  *status = res ? res->status : -1;
  return out;
}

// The first required case of a family's cases.json.
inline json first_required_case(const std::string& family) {
  const json cases = json::parse(read_file(model_dir(family) + "/cases.json"));
  for (const auto& c : cases["cases"]) {
    if (c["required"].get<bool>()) return c;
  }
  return nullptr;
}

// A generation long enough to still be running while a test acts on it (seconds on a laptop
// core): one token per forward, 256 forwards over 264 positions. Tests cancel it early.
constexpr int kLongForwards = 256;
inline json long_generation(const std::string& stream) {
  json j = {{"model", "llada"},
            {"prompt_ids", {33, 123, 286, 185, 229, 329, 477, 465}},
            {"diffusion",
             {{"gen_length", kLongForwards},
              {"block_length", kLongForwards},
              {"steps", kLongForwards},
              {"stop_at_eos", false}}}};
  if (!stream.empty()) j["stream"] = stream;
  return j;
}

// Polls GET /v1/generations/{id} until its status is `status`.
inline bool wait_status(httplib::Client& c, const std::string& id, const std::string& status,
                        json* row = nullptr) {
  return poll_until([&] {
    auto r = c.Get(("/v1/generations/" + id).c_str());
    if (!r || r->status != 200) return false;
    const json j = json::parse(r->body);
    if (row) *row = j;
    return j["status"] == status;
  });
}

}  // namespace dlx::test
