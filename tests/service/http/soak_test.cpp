// Soak test of `diffulex serve` (issue #16: nothing a client or a model file sends can crash,
// hang or exhaust the service). One server (the llada and sdar fixtures, two workers, a small
// queue, a 5 s --request-timeout, a copy of llada under --models-dir) takes DLX_SOAK_SECONDS
// (default 60) of load from 16 client threads, each picking at random (seeded, DLX_SOAK_SEED)
// among plain generations, SSE streams read to [DONE], requests and streams abandoned midway,
// bad requests, model administration over HTTP and reads; a second server with a tiny
// --request-timeout answers long generations with 504.
//
// Asserted: every status is one allowed for its request kind (documented 4xx, 429 queue_full,
// 503 model_not_loaded, 504 request_timeout; never another 5xx or no answer), the server lives
// and answers /health within a second afterwards, its RSS, threads and open files stay bounded,
// and every generation is logged exactly once with a final status that agrees with what the
// clients saw, with the database and with /metrics (and no log row was dropped).
#include <gtest/gtest.h>
#include <poll.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdio>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>

#include "tests/support/sanitizer.h"
#include "tests/support/serve_harness.h"

namespace dlx::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kClients = 16;
constexpr size_t kMaxBodyBytes = 64 * 1024;
constexpr const char* kCopy = "llada-copy";  // the llada fixture, copied under --models-dir
const std::vector<std::string> kAliases = {"soak-a", "soak-b", "soak-c"};
const std::vector<std::string> kModels = {"llada", "sdar"};

// Bounds on the server's resources (stated here, asserted at the end). RSS: the largest sample
// of the last third of the run may exceed the largest of the first third by this much, and no
// sample may exceed the cap. Threads and open files: back within this of the idle baseline.
constexpr long kRssGrowthMarginKb = 64 * 1024;
constexpr long kRssCapKb = 1024 * 1024;
constexpr int kThreadSlack = 4;
constexpr int kFdSlack = 8;

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < 0 || x > INT_MAX) {
    ADD_FAILURE() << name << "='" << v << "' is not a non-negative integer";
    return fallback;
  }
  return static_cast<int>(x);
}

// A field of /proc/<pid>/status ("VmRSS" in kB, "Threads"), or -1.
long proc_status(pid_t pid, const std::string& field) {
  const std::string s = read_file("/proc/" + std::to_string(pid) + "/status");
  const auto at = s.find("\n" + field + ":");
  if (at == std::string::npos) return -1;
  return std::strtol(s.c_str() + at + field.size() + 2, nullptr, 10);
}

// A TcpExt counter of /proc/net/netstat (machine-wide), or 0.
long tcp_ext(const std::string& name) {
  std::istringstream in(read_file("/proc/net/netstat"));
  std::string names, values;
  while (std::getline(in, names) && std::getline(in, values)) {
    if (names.rfind("TcpExt:", 0) != 0) continue;
    std::istringstream n(names), v(values);
    for (std::string k, x; n >> k && v >> x;) {
      if (k == name) return std::atol(x.c_str());
    }
  }
  return 0;
}

int open_fds(pid_t pid) {
  std::error_code ec;
  int n = 0;
  for (fs::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++n;
  }
  return ec ? -1 : n;
}

// "" when `body` is the service's error shape with `code`; otherwise what is wrong.
std::string error_mismatch(const std::string& body, const std::string& code) {
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!is_error_shape(j)) return "not the error shape: " + body.substr(0, 300);
  if (j["error"]["code"] != code) return "code " + j["error"]["code"].dump() + ", wanted " + code;
  return "";
}

// When the load started (set by the test), for timestamps in failure messages.
Clock::time_point& run_start() {
  static Clock::time_point t = Clock::now();
  return t;
}

// Why a request got no answer, and when: its start (seconds into the run) and how long it waited.
std::string no_answer(httplib::Error e, Clock::time_point sent) {
  const auto s = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  char buf[96];
  std::snprintf(buf, sizeof buf, " at %.1f s, after %.2f s)", s(sent - run_start()),
                s(Clock::now() - sent));
  return "no answer (" + httplib::to_string(e) + buf;
}

// `text` parsed when it is a JSON object, else an empty object (so value() and [] are safe).
json parse_object(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : json::object();
}

// The id of a generation anywhere in a response ("gen-", "cmpl-" or "chatcmpl-").
std::string find_id(const std::string& text) {
  static const std::regex re("\"id\":\"((?:gen|cmpl|chatcmpl)-[0-9a-f]+)\"");
  std::smatch m;
  return std::regex_search(text, m, re) ? m[1].str() : "";
}

// One HTTP/1.1 exchange on its own socket, for what httplib's client cannot do: leave in the
// middle of a response, send a chunked body or a malformed request.
class RawConn {
 public:
  explicit RawConn(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) close();
  }
  ~RawConn() { close(); }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  bool send_all(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Reads until `done(received)` holds, the peer closes or `timeout` passes; returns done().
  bool read_until(const std::function<bool(const std::string&)>& done, milliseconds timeout) {
    const auto until = Clock::now() + timeout;
    while (!done(received)) {
      const auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now()).count();
      if (left <= 0 || eof) return false;
      pollfd p{fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 100)));
      if (r <= 0) continue;
      char buf[8192];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        eof = true;
        return done(received);
      }
      received.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  // The status of the response's status line; 0 until one arrived.
  int status() const {
    if (received.size() < 12 || received.rfind("HTTP/1.1 ", 0) != 0) return 0;
    return std::atoi(received.c_str() + 9);
  }
  // The body of a complete Content-Length response, if it has all arrived.
  std::optional<std::string> full_body() const {
    const auto head_end = received.find("\r\n\r\n");
    if (head_end == std::string::npos) return std::nullopt;
    static const std::regex re("\r\ncontent-length: *([0-9]+)\r\n", std::regex::icase);
    std::smatch m;
    const std::string head = received.substr(0, head_end + 2);
    if (!std::regex_search(head, m, re)) return std::nullopt;
    const size_t len = std::stoul(m[1].str());
    if (received.size() - head_end - 4 < len) return std::nullopt;
    return received.substr(head_end + 4, len);
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  std::string received;
  bool eof = false;

 private:
  int fd_ = -1;
};

std::string raw_request(const std::string& method, const std::string& path, int port,
                        const std::string& body) {
  return method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

// What a client learned about one generation, to be found in the log afterwards.
enum class Expect { kOk, kCancelled, kOkOrCancelled };
struct Seen {
  std::string endpoint, model;
  Expect expect;
  json output_ids;  // from /v1/generate answers: the log must hold the same ids
};

// Everything the clients observed; one mutex, touched once per request.
struct Ledger {
  std::mutex mu;
  std::map<std::string, std::map<int, int>> statuses;  // kind -> status -> count
  int unexpected = 0;
  std::vector<std::string> unexpected_lines;  // the first 40
  // Main server: generations whose id a client saw, the 504s (a cancelled row each, id
  // unknown), and requests left before their outcome was known (a row or none).
  std::map<std::string, Seen> seen;
  std::vector<std::string> ok_ids;  // for /v1/generations/{id} reads
  std::vector<std::string> duplicate_ids;
  int timeouts_without_id = 0;
  int unknown_outcome = 0;
  // Second server (tiny --request-timeout).
  int slow_504 = 0, slow_stream_timeouts = 0, slow_streams_without_id = 0;
  std::set<std::string> slow_ids;

  void count(const std::string& kind, int status) {
    std::lock_guard<std::mutex> lock(mu);
    ++statuses[kind][status];
  }
  void fail(const std::string& kind, const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    ++unexpected;
    if (unexpected_lines.size() < 40) unexpected_lines.push_back(kind + ": " + what);
  }
  void saw(const std::string& id, Seen s) {
    std::lock_guard<std::mutex> lock(mu);
    if (s.expect == Expect::kOk) ok_ids.push_back(id);
    if (!seen.emplace(id, std::move(s)).second) duplicate_ids.push_back(id);
  }
  std::string random_ok_id(std::mt19937& rng) {
    std::lock_guard<std::mutex> lock(mu);
    if (ok_ids.empty()) return "";
    return ok_ids[std::uniform_int_distribution<size_t>(0, ok_ids.size() - 1)(rng)];
  }
};

// What a client asks for, and the log row it should leave.
struct GenRequest {
  std::string path;  // also the log's endpoint
  std::string model;
  json body;
};

enum class Mode { kNone, kDenoise, kAppend, kOpenAI };

class SoakClient {
 public:
  SoakClient(int port, int slow_port, Ledger& ledger, const std::atomic<bool>& stop, uint32_t seed)
      : port_(port), slow_port_(slow_port), ledger_(ledger), stop_(stop), rng_(seed) {}

  void run() {
    while (!stop_) {
      try {
        step();
      } catch (const std::exception& e) {  // a malformed answer must fail the test, not abort it
        ledger_.fail("client", std::string("exception: ") + e.what());
      }
    }
  }

 private:
  // One request; its kind drawn with these weights (percent): generate 18, stream 14, abandoned
  // stream 8, abandoned request 6, bad request 14, timeout 4, admin 10, alias generation 6,
  // reads 20.
  void step() {
    const int r = pick(0, 99);
    if (r < 18)
      generate();
    else if (r < 32)
      stream();
    else if (r < 40)
      abandon_stream();
    else if (r < 46)
      abandon_request();
    else if (r < 60)
      bad_request();
    else if (r < 64)
      slow_request();
    else if (r < 74)
      admin();
    else if (r < 80)
      alias_generate();
    else
      read();
  }

  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  template <typename T>
  const T& pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(pick(0, static_cast<int>(v.size()) - 1))];
  }
  void sleep_ms(int lo, int hi) { std::this_thread::sleep_for(milliseconds(pick(lo, hi))); }

  httplib::Client client(int port) const {
    httplib::Client c("127.0.0.1", port);  // sends Host: 127.0.0.1:<port>
    c.set_connection_timeout(10, 0);
    c.set_read_timeout(30, 0);
    c.set_write_timeout(10, 0);
    return c;
  }

  // A small generation on `model` (gen_length 4..32), streamed as `mode`; `path` "" = random.
  GenRequest generation(const std::string& model, Mode mode, std::string path = "") {
    static const std::vector<std::string> kPrompts = {"Hello", "The quick brown fox", "1 2 3 4",
                                                      "h\u00e9llo w\u00f6rld \u2713",
                                                      "Once upon a time"};
    static const std::vector<std::string> kStops = {" ", "e", "\n", "the"};
    if (path.empty()) {
      static const std::vector<std::string> kPaths = {"/v1/generate", "/v1/completions",
                                                      "/v1/chat/completions"};
      path = pick(kPaths);
    }
    const int gen = 4 << pick(0, 3);
    json b = {{"model", model}};
    if (path == "/v1/generate") {
      if (pick(0, 1))
        b["prompt"] = pick(kPrompts);
      else
        b["prompt_ids"] = {33, 123, 286, 185};
      json d = {{"gen_length", gen}};
      if (model == "sdar") {
        d["block_length"] = 4;
      } else {
        d["block_length"] = gen;
        d["steps"] = gen;
      }
      if (pick(0, 1)) {
        d["temperature"] = 0.8;
        d["seed"] = pick(0, 1000);
      }
      b["diffusion"] = d;
      if (mode == Mode::kDenoise) b["stream"] = "denoise";
      if (mode == Mode::kAppend) b["stream"] = "append";
    } else {
      if (path == "/v1/completions")
        b["prompt"] = pick(kPrompts);
      else
        b["messages"] = {{{"role", "user"}, {"content", pick(kPrompts)}}};
      b["max_tokens"] = gen;
      b["temperature"] = pick(0, 1) ? 0.0 : 0.7;
      b["seed"] = pick(0, 1000);
      if (pick(0, 3) == 0) b["stop"] = json::array({pick(kStops)});  // may end it early
      if (mode != Mode::kNone) b["stream"] = true;
    }
    return {path, model, b};
  }

  // Checks a non-streaming generation's answer and records what the log must hold.
  void on_answer(const std::string& kind, const GenRequest& g, int status, const std::string& body,
                 bool alias) {
    ledger_.count(kind, status);
    std::string bad;
    if (status == 200) {
      json j = parse_object(body);
      const std::string id = j.value("id", "");
      if (id.empty() || j.value("model", "") != g.model) {
        bad = "200 without the id or model: " + body.substr(0, 300);
      } else {
        json ids = nullptr;
        if (g.path == "/v1/generate") ids = j["output_ids"];
        ledger_.saw(id, {g.path, g.model, Expect::kOk, ids});
      }
    } else if (status == 429) {
      bad = error_mismatch(body, "queue_full");
      sleep_ms(20, 80);
    } else if (status == 504) {
      bad = error_mismatch(body, "request_timeout");
      std::lock_guard<std::mutex> lock(ledger_.mu);
      ++ledger_.timeouts_without_id;
    } else if (alias && status == 404) {
      bad = error_mismatch(body, "not_found");
    } else if (alias && status == 503) {
      bad = error_mismatch(body, "model_not_loaded");
    } else {
      bad = "status " + std::to_string(status) + ": " + body.substr(0, 300);
    }
    if (!bad.empty()) ledger_.fail(kind, g.path + " " + g.body.dump() + " -> " + bad);
  }

  void post_generation(const std::string& kind, const GenRequest& g, bool alias) {
    auto c = client(port_);
    const auto sent = Clock::now();
    auto r = c.Post(g.path.c_str(), g.body.dump(), "application/json");
    if (!r) {
      ledger_.count(kind, -1);
      ledger_.fail(kind, g.path + " " + g.body.dump() + ": " + no_answer(r.error(), sent));
      return;
    }
    on_answer(kind, g, r->status, r->body, alias);
  }

  void generate() { post_generation("generate", generation(pick(kModels), Mode::kNone), false); }

  void alias_generate() {
    post_generation("alias_generate", generation(pick(kAliases), Mode::kNone), true);
  }

  // A stream read to its end: it must end with [DONE] after a result (or a timeout error).
  void stream() {
    static const std::vector<Mode> kModes = {Mode::kDenoise, Mode::kAppend, Mode::kOpenAI,
                                             Mode::kOpenAI};
    const Mode mode = pick(kModes);
    std::string path = "/v1/generate";
    if (mode == Mode::kOpenAI) path = pick(0, 1) ? "/v1/completions" : "/v1/chat/completions";
    const GenRequest g = generation(pick(kModels), mode, path);
    auto c = client(port_);
    httplib::Request req;
    req.method = "POST";
    req.path = g.path;
    req.body = g.body.dump();
    req.set_header("Content-Type", "application/json");
    std::string body;
    req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
      body.append(d, n);
      return true;
    };
    const auto sent = Clock::now();
    auto r = c.send(req);
    const std::string kind = "stream";
    if (!r) {
      ledger_.count(kind, -1);
      ledger_.fail(kind, g.path + " " + g.body.dump() + ": " + no_answer(r.error(), sent) +
                             ", received: ..." +
                             body.substr(body.size() > 300 ? body.size() - 300 : 0));
      return;
    }
    ledger_.count(kind, r->status);
    if (r->status == 429) {
      const std::string bad = error_mismatch(body, "queue_full");
      if (!bad.empty()) ledger_.fail(kind, bad);
      sleep_ms(20, 80);
      return;
    }
    if (r->status != 200) {
      ledger_.fail(kind, "status " + std::to_string(r->status) + ": " + body.substr(0, 300));
      return;
    }
    const std::string why = check_stream(g, mode, body);
    if (!why.empty()) ledger_.fail(kind, g.body.dump() + " -> " + why);
  }

  // Checks a whole SSE body and records its generation; "" when it is as documented.
  std::string check_stream(const GenRequest& g, Mode mode, const std::string& body) {
    const std::string done = "data: [DONE]\n\n";
    if (body.size() < done.size() || body.compare(body.size() - done.size(), done.size(), done))
      return "the stream does not end with [DONE]: ..." +
             body.substr(body.size() > 300 ? body.size() - 300 : 0);
    const std::vector<SseEvent> events = parse_sse(body);
    if (events.size() < 2) return "too few events";
    const SseEvent& last = events[events.size() - 2];
    json end = parse_object(last.data);
    if (mode == Mode::kOpenAI) {
      const std::string id = find_id(body);
      if (end.is_object() && end.contains("error")) {
        const std::string bad = error_mismatch(last.data, "request_timeout");
        if (!bad.empty()) return "error chunk: " + bad;
        if (!id.empty()) {
          ledger_.saw(id, {g.path, g.model, Expect::kCancelled, nullptr});
        } else {
          std::lock_guard<std::mutex> lock(ledger_.mu);
          ++ledger_.timeouts_without_id;
        }
        return "";
      }
      if (id.empty() || !end.is_object() || !end["choices"].is_array() ||
          !end["choices"][0]["finish_reason"].is_string())
        return "no final chunk with finish_reason: " + last.data.substr(0, 300);
      ledger_.saw(id, {g.path, g.model, Expect::kOk, nullptr});
      return "";
    }
    if (events[0].event != "start") return "the first event is not start";
    const std::string id = parse_object(events[0].data).value("id", "");
    if (id.empty()) return "start without id";
    if (last.event == "result" && end.is_object() && end.value("id", "") == id) {
      ledger_.saw(id, {g.path, g.model, Expect::kOk, end["output_ids"]});
      return "";
    }
    if (last.event == "error") {
      json e = end;
      if (e.is_object()) {
        e.erase("type");
        e.erase("id");
      }
      const std::string bad = error_mismatch(e.dump(), "request_timeout");
      if (!bad.empty()) return "error event: " + bad;
      ledger_.saw(id, {g.path, g.model, Expect::kCancelled, nullptr});
      return "";
    }
    return "the last event is '" + last.event + "': " + last.data.substr(0, 300);
  }

  // A stream the client leaves after its first event (or right away): the job is cancelled.
  void abandon_stream() {
    static const std::vector<Mode> kModes = {Mode::kDenoise, Mode::kAppend, Mode::kOpenAI};
    const Mode mode = pick(kModes);
    std::string path = "/v1/generate";
    if (mode == Mode::kOpenAI) path = pick(0, 1) ? "/v1/completions" : "/v1/chat/completions";
    GenRequest g = generation(pick(kModels), mode, path);
    if (g.path == "/v1/generate" && g.model == "llada") {  // long enough to leave midway
      g.body["diffusion"] = {
          {"gen_length", 128}, {"block_length", 128}, {"steps", 128}, {"stop_at_eos", false}};
    }
    const std::string kind = "abandon_stream";
    RawConn conn(port_);
    if (!conn.connected() || !conn.send_all(raw_request("POST", g.path, port_, g.body.dump()))) {
      ledger_.count(kind, -1);
      ledger_.fail(kind, "cannot connect or send");
      return;
    }
    const bool right_away = pick(0, 4) == 0;
    if (!right_away) {
      conn.read_until(
          [](const std::string& s) {
            const auto head = s.find("\r\n\r\n");
            return head != std::string::npos &&
                   (s.rfind("HTTP/1.1 200", 0) != 0 || s.find("data: ", head) != std::string::npos);
          },
          seconds(2));
      sleep_ms(0, 30);
      conn.read_until([](const std::string&) { return false; }, milliseconds(1));
    }
    conn.close();
    const int status = conn.status();
    ledger_.count(kind, status);
    if (status == 429) {
      if (auto b = conn.full_body(); b && !error_mismatch(*b, "queue_full").empty())
        ledger_.fail(kind, error_mismatch(*b, "queue_full"));
      return;
    }
    if (status != 0 && status != 200) {
      ledger_.fail(kind, "status " + std::to_string(status) + ": " + conn.received.substr(0, 300));
      return;
    }
    const std::string id = find_id(conn.received);
    if (id.empty()) {
      std::lock_guard<std::mutex> lock(ledger_.mu);
      ++ledger_.unknown_outcome;
    } else {
      ledger_.saw(id, {g.path, g.model, Expect::kOkOrCancelled, nullptr});
    }
  }

  // A non-streaming generation the client leaves after 0-150 ms: cancelled, or done before.
  void abandon_request() {
    const std::string kind = "abandon_request";
    GenRequest g{
        "/v1/generate",
        "llada",
        {{"model", "llada"},
         {"prompt_ids", {33, 123, 286, 185}},
         {"diffusion",
          {{"gen_length", 128}, {"block_length", 128}, {"steps", 128}, {"stop_at_eos", false}}}}};
    RawConn conn(port_);
    if (!conn.connected() || !conn.send_all(raw_request("POST", g.path, port_, g.body.dump()))) {
      ledger_.count(kind, -1);
      ledger_.fail(kind, "cannot connect or send");
      return;
    }
    conn.read_until([&](const std::string&) { return conn.full_body().has_value(); },
                    milliseconds(pick(0, 150)));
    conn.close();
    if (auto b = conn.full_body()) {
      on_answer(kind, g, conn.status(), *b, false);  // it finished before the client left
      return;
    }
    ledger_.count(kind, 0);
    std::lock_guard<std::mutex> lock(ledger_.mu);
    ++ledger_.unknown_outcome;
  }

  // A long generation on the second server (--request-timeout 0.2): 504, or an error event.
  void slow_request() {
    const std::string kind = "timeout";
    // 480 forwards over 488 positions: seconds of CPU, against a limit of 0.2 s.
    json b = long_generation("");
    b["diffusion"] = {
        {"gen_length", 480}, {"block_length", 480}, {"steps", 480}, {"stop_at_eos", false}};
    auto c = client(slow_port_);
    if (pick(0, 2) > 0) {
      auto r = c.Post("/v1/generate", b.dump(), "application/json");
      const int status = r ? r->status : -1;
      ledger_.count(kind, status);
      std::string bad;
      if (status == 504) {
        bad = error_mismatch(r->body, "request_timeout");
        std::lock_guard<std::mutex> lock(ledger_.mu);
        ++ledger_.slow_504;
      } else if (status == 429) {
        bad = error_mismatch(r->body, "queue_full");
        sleep_ms(20, 80);
      } else {
        bad = r ? "status " + std::to_string(status) + ": " + r->body.substr(0, 300)
                : "no answer (" + httplib::to_string(r.error()) + ")";
      }
      if (!bad.empty()) ledger_.fail(kind, bad);
      return;
    }
    b["stream"] = "denoise";
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/generate";
    req.body = b.dump();
    req.set_header("Content-Type", "application/json");
    std::string body;
    req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
      body.append(d, n);
      return true;
    };
    auto r = c.send(req);
    const int status = r ? r->status : -1;
    ledger_.count(kind + "_stream", status);
    if (status == 429) {
      sleep_ms(20, 80);
      if (const std::string bad = error_mismatch(body, "queue_full"); !bad.empty())
        ledger_.fail(kind, bad);
      return;
    }
    const std::vector<SseEvent> events = parse_sse(body);
    const bool ends_done = events.size() >= 3 && events.back().data == "[DONE]";
    if (status != 200 || !ends_done || events.front().event != "start" ||
        events[events.size() - 2].event != "error" ||
        body.find("\"code\":\"request_timeout\"") == std::string::npos) {
      ledger_.fail(kind, "stream status " + std::to_string(status) + ", not a timeout error: " +
                             body.substr(body.size() > 400 ? body.size() - 400 : 0));
      return;
    }
    const std::string id = parse_object(events.front().data).value("id", "");
    std::lock_guard<std::mutex> lock(ledger_.mu);
    ++ledger_.slow_stream_timeouts;
    if (id.empty() || !ledger_.slow_ids.insert(id).second) ++ledger_.slow_streams_without_id;
  }

  // One of the documented errors; the status and code must be exactly these.
  void bad_request() {
    struct Bad {
      const char* name;
      const char* method;
      const char* path;
      std::string body;
      int status;
      const char* code;
    };
    const std::string big(kMaxBodyBytes + 4096, 'a');
    std::string nested = "{\"model\":\"llada\",\"prompt\":\"x\",\"diffusion\":";
    for (int i = 0; i < 1000; ++i) nested += "[";
    for (int i = 0; i < 1000; ++i) nested += "]";
    nested += "}";
    const std::vector<Bad> kBad = {
        {"invalid_json", "POST", "/v1/generate", "{\"model\": \"llada\", ", 400, "invalid_json"},
        {"invalid_utf8", "POST", "/v1/completions", "{\"model\":\"llada\",\"prompt\":\"\xff\xfe\"}",
         400, "invalid_json"},
        {"not_an_object", "POST", "/v1/chat/completions", "[1,2,3]", 400, "invalid_parameter"},
        {"deeply_nested", "POST", "/v1/generate", nested, 400, "invalid_json"},
        {"unknown_key", "POST", "/v1/generate", R"({"model":"llada","prompt":"hi","bogus":1})", 400,
         "invalid_parameter"},
        {"unknown_diffusion_key", "POST", "/v1/generate",
         R"({"model":"llada","prompt":"hi","diffusion":{"warp_speed":9}})", 400,
         "invalid_parameter"},
        {"max_tokens_zero", "POST", "/v1/completions",
         R"({"model":"llada","prompt":"hi","max_tokens":0})", 400, "invalid_parameter"},
        {"top_p_range", "POST", "/v1/chat/completions",
         R"({"model":"sdar","messages":[{"role":"user","content":"hi"}],"top_p":1.5})", 400,
         "invalid_parameter"},
        {"temperature_negative", "POST", "/v1/completions",
         R"({"model":"llada","prompt":"hi","temperature":-1})", 400, "invalid_parameter"},
        {"n_two", "POST", "/v1/completions", R"({"model":"llada","prompt":"hi","n":2})", 400,
         "invalid_parameter"},
        {"token_outside_vocab", "POST", "/v1/generate",
         R"({"model":"llada","prompt_ids":[1,99999]})", 400, "invalid_parameter"},
        {"stream_value", "POST", "/v1/generate",
         R"({"model":"llada","prompt":"hi","stream":"sideways"})", 400, "invalid_parameter"},
        {"context_exceeded", "POST", "/v1/generate",
         R"({"model":"llada","prompt":"hi","diffusion":{"gen_length":4096,"block_length":4096,"steps":4096}})",
         400, "context_length_exceeded"},
        {"empty_messages", "POST", "/v1/chat/completions", R"({"model":"llada","messages":[]})",
         400, "invalid_parameter"},
        {"unknown_model", "POST", "/v1/generate", R"({"model":"nope","prompt":"hi"})", 404,
         "not_found"},
        {"unknown_model_chat", "POST", "/v1/chat/completions",
         R"({"model":"nope","messages":[{"role":"user","content":"hi"}]})", 404, "not_found"},
        {"register_outside", "POST", "/v1/models", R"({"name":"evil","path":"../.."})", 400,
         "invalid_parameter"},
        {"register_bad_name", "POST", "/v1/models", R"({"name":"../x","path":"llada-copy"})", 400,
         "invalid_parameter"},
        {"load_unknown", "POST", "/v1/models/nope/load", "", 404, "not_found"},
        {"log_limit", "GET", "/v1/generations?limit=0", "", 400, "invalid_parameter"},
        {"log_status", "GET", "/v1/generations?status=bogus", "", 400, "invalid_parameter"},
        {"log_unknown_id", "GET", "/v1/generations/gen-0000", "", 404, "not_found"},
        {"too_large", "POST", "/v1/completions", "{\"model\":\"llada\",\"prompt\":\"" + big + "\"}",
         413, "request_too_large"},
        {"wrong_method_get", "GET", "/v1/generate", "", 405, "method_not_allowed"},
        {"wrong_method_put", "PUT", "/v1/models", "{}", 405, "method_not_allowed"},
        {"wrong_method_delete", "DELETE", "/health", "", 405, "method_not_allowed"},
        {"unknown_route", "GET", "/v2/nothing", "", 404, "unknown_route"},
        {"detokenize_range", "POST", "/detokenize", R"({"model":"sdar","ids":[1,100000]})", 400,
         "invalid_parameter"},
        {"tokenize_no_text", "POST", "/tokenize", R"({"model":"llada"})", 400, "invalid_parameter"},
        {"chunked_too_large", "", "", "", 413, "request_too_large"},
        {"malformed_request_line", "", "", "", 400, "bad_request"},
    };
    const Bad& b = kBad[static_cast<size_t>(pick(0, static_cast<int>(kBad.size()) - 1))];
    const std::string kind = std::string("bad:") + b.name;
    int status = -1;
    std::string body;
    if (std::string(b.name) == "chunked_too_large") {
      status = chunked_too_large(&body);
    } else if (std::string(b.name) == "malformed_request_line") {
      RawConn conn(port_);
      conn.send_all("GARBAGE\r\nHost: 127.0.0.1:" + std::to_string(port_) + "\r\n\r\n");
      conn.read_until([&](const std::string&) { return conn.full_body().has_value(); },
                      seconds(10));
      status = conn.status();
      body = conn.full_body().value_or(conn.received);
    } else {
      auto c = client(port_);
      httplib::Request req;
      req.method = b.method;
      req.path = b.path;
      req.body = b.body;
      if (std::string(b.method) != "GET") req.set_header("Content-Type", "application/json");
      auto r = c.send(req);
      if (r) {
        status = r->status;
        body = r->body;
        if (status == 405 && !r->has_header("Allow")) body = "405 without Allow";
      } else {
        body = "no answer (" + httplib::to_string(r.error()) + ")";
      }
    }
    ledger_.count(kind, status);
    std::string bad = status == b.status
                          ? error_mismatch(body, b.code)
                          : "status " + std::to_string(status) + ", wanted " +
                                std::to_string(b.status) + ": " + body.substr(0, 300);
    if (!bad.empty()) ledger_.fail(kind, bad);
  }

  // A chunked body past --max-body-bytes: 413 before the server reads it all. Returns the status.
  int chunked_too_large(std::string* body) {
    RawConn conn(port_);
    const std::string head =
        "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) +
        "\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n";
    if (!conn.send_all(head)) return -1;
    const std::string payload(16 * 1024, 'a');
    char size_line[32];
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", payload.size());
    const std::string chunk = size_line + payload + "\r\n";
    for (int i = 0; i < 64; ++i) {  // up to 1 MiB, 16x the limit
      pollfd p{conn.fd(), POLLIN | POLLOUT, 0};
      if (::poll(&p, 1, 10000) <= 0 || (p.revents & POLLIN)) break;
      if (::send(conn.fd(), chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
          errno != EAGAIN)
        break;
    }
    conn.read_until([&](const std::string&) { return conn.full_body().has_value(); }, seconds(10));
    *body = conn.full_body().value_or(conn.received);
    const int status = conn.status() ? conn.status() : -1;
    // The 413 ends the connection (README): nothing after it may be read as a new request.
    const size_t first = conn.received.size();
    conn.read_until(
        [&](const std::string& r) { return r.find("HTTP/1.1 ", first) != std::string::npos; },
        seconds(1));
    if (const auto at = conn.received.find("HTTP/1.1 ", first); at != std::string::npos) {
      ledger_.fail("bad:chunked_too_large",
                   "a second response on the connection after the 413: the server kept reading "
                   "and parsed the rest of the body as a request: " +
                       conn.received.substr(at, conn.received.find('\r', at) - at));
    }
    return status;
  }

  // Registers, loads, unloads, shows or deletes one of three aliases of the llada copy.
  void admin() {
    const std::string alias = pick(kAliases);
    auto c = client(port_);
    const int op_index = pick(0, 4);
    static const char* const kOps[] = {"register", "load", "unload", "delete", "show"};
    const std::string op = kOps[op_index];
    // Documented: 201 registered / 409 name taken; 404 for a name that is not registered.
    const std::set<int> ok = op_index == 0 ? std::set<int>{201, 409} : std::set<int>{200, 404};
    const std::string at = "/v1/models/" + alias;
    httplib::Result r = [&] {
      switch (op_index) {
        case 0:
          return c.Post("/v1/models", json{{"name", alias}, {"path", kCopy}}.dump(),
                        "application/json");
        case 1:
          return c.Post((at + "/load").c_str(), "", "application/json");
        case 2:
          return c.Post((at + "/unload").c_str(), "", "application/json");
        case 3:
          return c.Delete(at.c_str());
        default:
          return c.Get(at.c_str());
      }
    }();
    const std::string kind = "admin:" + op;
    const int status = r ? r->status : -1;
    ledger_.count(kind, status);
    std::string bad;
    if (!ok.count(status)) {
      bad = r ? "status " + std::to_string(status) + ": " + r->body.substr(0, 300)
              : "no answer (" + httplib::to_string(r.error()) + ")";
    } else if (status == 409) {
      bad = error_mismatch(r->body, "conflict");
    } else if (status == 404) {
      bad = error_mismatch(r->body, "not_found");
    } else {
      const json j = parse_object(r->body);
      if (j.value("id", "") != alias) bad = "answer: " + r->body.substr(0, 300);
    }
    if (!bad.empty()) ledger_.fail(kind, alias + " " + bad);
  }

  // /health, /metrics, the model list and the generation log (its list and one entry).
  void read() {
    auto c = client(port_);
    const int what = pick(0, 5);
    std::string path = "/health", kind = "read:health", id;
    if (what == 5) {
      tokenizer_round_trip();
      return;
    }
    if (what == 1) {
      path = "/metrics";
      kind = "read:metrics";
    } else if (what == 2) {
      path = "/v1/models";
      kind = "read:models";
    } else if (what == 3) {
      path = "/v1/generations?limit=" + std::to_string(pick(1, 100));
      kind = "read:generations";
    } else if (what == 4) {
      id = ledger_.random_ok_id(rng_);
      if (id.empty()) return;
      path = "/v1/generations/" + id;
      kind = "read:generation";
    }
    auto r = c.Get(path.c_str());
    const int status = r ? r->status : -1;
    ledger_.count(kind, status);
    if (status != 200) {
      ledger_.fail(kind, path + " -> " +
                             (r ? std::to_string(status) + ": " + r->body.substr(0, 300)
                                : "no answer (" + httplib::to_string(r.error()) + ")"));
      return;
    }
    if (what == 1 && r->body.find("\ndlx_log_dropped_total 0\n") == std::string::npos)
      ledger_.fail(kind, "dlx_log_dropped_total is not 0");
    if (what == 4) {
      // The client already had its answer, so the log holds the final row.
      const json j = parse_object(r->body);
      if (j.value("status", "") != "ok")
        ledger_.fail(kind, id + " is not logged ok: " + r->body.substr(0, 300));
    }
  }

  // /tokenize then /detokenize of the ids it gave: 200 both, the text back.
  void tokenizer_round_trip() {
    static const std::vector<std::string> kTexts = {"Hello world", "h\u00e9llo \u2713", "1 2 3"};
    const std::string model = pick(kModels), text = pick(kTexts), kind = "read:tokenize";
    auto c = client(port_);
    auto t = c.Post("/tokenize", json{{"model", model}, {"text", text}}.dump(), "application/json");
    const int status = t ? t->status : -1;
    ledger_.count(kind, status);
    const json ids = status == 200 ? parse_object(t->body).value("ids", json()) : json();
    if (!ids.is_array()) {
      ledger_.fail(kind, model + " /tokenize -> " + std::to_string(status) +
                             (t ? ": " + t->body.substr(0, 300) : ""));
      return;
    }
    auto d = c.Post("/detokenize", json{{"model", model}, {"ids", ids}}.dump(), "application/json");
    ledger_.count("read:detokenize", d ? d->status : -1);
    if (!d || d->status != 200)
      ledger_.fail("read:detokenize",
                   model + " /detokenize -> " + (d ? d->body.substr(0, 300) : "no answer"));
  }

  const int port_, slow_port_;
  Ledger& ledger_;
  const std::atomic<bool>& stop_;
  std::mt19937 rng_;
};

// Every row of the generation log, read through the API, newest first.
std::vector<json> all_generations(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30, 0);
  std::vector<json> rows;
  std::string before;
  for (int page = 0; page < 100000; ++page) {
    std::string path = "/v1/generations?limit=100";
    if (!before.empty()) path += "&before=" + before;
    auto r = c.Get(path.c_str());
    if (!r || r->status != 200) {
      ADD_FAILURE() << path << " -> " << (r ? r->body : httplib::to_string(r.error()));
      break;
    }
    const json j = json::parse(r->body);
    for (const auto& row : j["data"]) rows.push_back(row);
    if (!j["has_more"].get<bool>() || j["data"].empty()) break;
    before = j["data"].back()["id"];
  }
  return rows;
}

// Rows of a table, read from the database file after the server stopped (read-only).
std::vector<std::map<std::string, std::string>> db_rows(const std::string& path,
                                                        const std::string& sql) {
  std::vector<std::map<std::string, std::string>> out;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << path << ": " << sqlite3_errmsg(db);
    sqlite3_close(db);
    return out;
  }
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
  } else {
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::map<std::string, std::string> row;
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        const auto* v = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
        row[sqlite3_column_name(st, i)] = v ? v : "";
      }
      out.push_back(std::move(row));
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

// Sums of a Prometheus counter's samples by one label ("" sums them all).
std::map<std::string, double> metric_by(const std::string& text, const std::string& name,
                                        const std::string& label) {
  std::map<std::string, double> out;
  const std::regex line("^" + name + "(\\{([^}]*)\\})? ([0-9.e+-]+)$");
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (!std::regex_match(l, m, line)) continue;
    std::string key;
    if (!label.empty()) {
      const std::regex lab(label + "=\"([^\"]*)\"");
      std::smatch lm;
      const std::string labels = m[2].str();
      if (std::regex_search(labels, lm, lab)) key = lm[1].str();
    }
    out[key] += std::stod(m[3].str());
  }
  return out;
}

std::string metrics_text(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30, 0);
  auto r = c.Get("/metrics");
  return r && r->status == 200 ? r->body : "";
}

// Waits until no generation is queued or running and the log writer has caught up.
bool wait_idle(int port) {
  return poll_until(
      [&] {
        const std::string m = metrics_text(port);
        return m.find("\ndlx_queue_depth 0\n") != std::string::npos &&
               m.find("\ndlx_active_generations 0\n") != std::string::npos &&
               m.find("\ndlx_log_queue_depth 0\n") != std::string::npos;
      },
      seconds(60));
}

const char* expect_name(Expect e) {
  return e == Expect::kOk ? "ok" : e == Expect::kCancelled ? "cancelled" : "ok or cancelled";
}

TEST(Soak, SixteenClientsMixedLoad) {
  // A sanitizer build runs it shorter: the point there is memory and race errors under load,
  // and ASan makes every request several times slower.
  const int duration_s = std::max(1, env_int("DLX_SOAK_SECONDS", kSanitized ? 30 : 60));
  const auto seed = static_cast<uint32_t>(env_int("DLX_SOAK_SEED", 16));
  TempDir dir;
  // --models-dir holds a copy of the llada fixture (a symlink out of it would be refused).
  const fs::path copy = fs::path(dir.path()) / "models" / kCopy;
  fs::create_directories(copy);
  for (const auto& e : fs::directory_iterator(model_dir("llada"))) {
    if (e.is_regular_file()) fs::copy_file(e.path(), copy / e.path().filename());
  }
  ServerProcess server(
      dir.path(), {"--db", dir.file("soak.db"), "--model", "llada=" + model_dir("llada"), "--model",
                   "sdar=" + model_dir("sdar"), "--models-dir", dir.file("models"), "--workers",
                   "2", "--threads", "1", "--max-queue", "4", "--request-timeout", "5",
                   "--max-body-bytes", std::to_string(kMaxBodyBytes)});
  ServerProcess slow(dir.path(), {"--db", dir.file("slow.db"), "--model",
                                  "llada=" + model_dir("llada"), "--workers", "1", "--threads", "1",
                                  "--max-queue", "2", "--request-timeout", "0.2"});
  ASSERT_TRUE(server.wait_ready()) << server.stderr_text();
  ASSERT_TRUE(slow.wait_ready()) << slow.stderr_text();
  const int port = server.port();
  const pid_t pid = server.pid();
  const long threads_before = proc_status(pid, "Threads");
  const int fds_before = open_fds(pid);

  // Load: 16 clients, and a sampler of the server's RSS once a second.
  Ledger ledger;
  std::atomic<bool> stop{false};
  std::vector<long> rss_kb;
  std::thread sampler([&] {
    while (!stop) {
      rss_kb.push_back(proc_status(pid, "VmRSS"));
      for (int i = 0; i < 10 && !stop; ++i) std::this_thread::sleep_for(milliseconds(100));
    }
  });
  const long overflows_before = tcp_ext("ListenOverflows");
  const long cookies_before = tcp_ext("SyncookiesSent");
  const auto t0 = Clock::now();
  run_start() = t0;
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      SoakClient(port, slow.port(), ledger, stop, seed * 1000u + static_cast<uint32_t>(i)).run();
    });
  }
  std::this_thread::sleep_for(seconds(duration_s));
  stop = true;
  for (auto& t : clients) t.join();
  sampler.join();
  const double load_s = std::chrono::duration<double>(Clock::now() - t0).count();

  // The server lives, goes idle, and answers /health within a second.
  ASSERT_TRUE(wait_idle(port)) << "the server did not go idle\n" << server.stderr_text();
  ASSERT_TRUE(wait_idle(slow.port())) << slow.stderr_text();
  {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(1, 0);
    c.set_read_timeout(1, 0);
    const auto h0 = Clock::now();
    auto h = c.Get("/health");
    ASSERT_TRUE(h) << "no /health answer within 1 s: " << httplib::to_string(h.error());
    EXPECT_EQ(h->status, 200) << h->body;
    EXPECT_LT(Clock::now() - h0, seconds(1));
  }
  // Aliases go away (their mapped files with them); threads and open files come back.
  {
    httplib::Client c("127.0.0.1", port);
    for (const auto& a : kAliases) {
      auto r = c.Delete(("/v1/models/" + a).c_str());
      ASSERT_TRUE(r);
      EXPECT_TRUE(r->status == 200 || r->status == 404) << r->body;
    }
  }
  long threads_after = 0;
  int fds_after = 0;
  poll_until(
      [&] {
        threads_after = proc_status(pid, "Threads");
        fds_after = open_fds(pid);
        return threads_after <= threads_before + kThreadSlack && fds_after <= fds_before + kFdSlack;
      },
      seconds(15));

  const std::vector<json> rows = all_generations(port);
  const std::vector<json> slow_rows = all_generations(slow.port());
  const std::string metrics = metrics_text(port), slow_metrics = metrics_text(slow.port());
  EXPECT_EQ(server.terminate(), 0) << server.stderr_text();
  EXPECT_EQ(slow.terminate(), 0) << slow.stderr_text();

  // ---- Summary.
  std::map<std::string, int> row_status;
  for (const auto& r : rows) ++row_status[r["status"].get<std::string>()];
  std::printf("soak: %d clients, %.1f s of load, seed %u\n", kClients, load_s, seed);
  int requests = 0;
  for (const auto& [kind, by_status] : ledger.statuses) {
    int n = 0;
    std::string s;
    for (const auto& [st, k] : by_status) {
      n += k;
      s += " " +
           (st == 0  ? std::string("left")
            : st < 0 ? "none"
                     : std::to_string(st)) +
           "x" + std::to_string(k);
    }
    requests += n;
    std::printf("  %-30s %6d %s\n", kind.c_str(), n, s.c_str());
  }
  std::printf("  requests: %d (%.0f/s); unexpected: %d\n", requests, requests / load_s,
              ledger.unexpected);
  std::printf("  log: %zu rows (", rows.size());
  for (const auto& [st, n] : row_status) std::printf(" %s %d", st.c_str(), n);
  std::printf(
      " ); ids seen by clients %zu, 504s without id %d, outcome unknown %d; "
      "second server %zu rows, %d 504s, %d stream timeouts\n",
      ledger.seen.size(), ledger.timeouts_without_id, ledger.unknown_outcome, slow_rows.size(),
      ledger.slow_504, ledger.slow_stream_timeouts);
  const size_t third = rss_kb.size() / 3;
  long first_max = 0, last_max = 0, all_max = 0;
  for (size_t i = 0; i < rss_kb.size(); ++i) {
    all_max = std::max(all_max, rss_kb[i]);
    if (i < std::max<size_t>(third, 1)) first_max = std::max(first_max, rss_kb[i]);
    if (i >= rss_kb.size() - std::max<size_t>(third, 1)) last_max = std::max(last_max, rss_kb[i]);
  }
  std::printf(
      "  RSS (MiB): first %.1f, max of first third %.1f, max of last third %.1f, last "
      "%.1f, max %.1f (%zu samples); threads %ld -> %ld, fds %d -> %d\n",
      rss_kb.empty() ? 0 : rss_kb.front() / 1024.0, first_max / 1024.0, last_max / 1024.0,
      rss_kb.empty() ? 0 : rss_kb.back() / 1024.0, all_max / 1024.0, rss_kb.size(), threads_before,
      threads_after, fds_before, fds_after);
  std::string trend;
  for (size_t i = 0; i < rss_kb.size(); i += 10) {
    char buf[32];
    std::snprintf(buf, sizeof buf, " %.0f", rss_kb[i] / 1024.0);
    trend += buf;
  }
  std::printf("  RSS every 10 s (MiB):%s\n", trend.c_str());
  std::string codes;
  for (const auto& [code, n] : metric_by(metrics, "dlx_http_requests_total", "code"))
    codes += " " + code + "x" + std::to_string(static_cast<long>(n));
  std::printf("  server's dlx_http_requests_total by code:%s\n", codes.c_str());
  std::printf(
      "  TCP listen queue overflows on this machine during the run: %ld (SYN cookies "
      "sent: %ld)\n",
      tcp_ext("ListenOverflows") - overflows_before, tcp_ext("SyncookiesSent") - cookies_before);
  std::fflush(stdout);

  // ---- Statuses: every one was allowed for its kind.
  EXPECT_EQ(ledger.unexpected, 0) << [&] {
    std::string s;
    for (const auto& l : ledger.unexpected_lines) s += l + "\n";
    return s;
  }();
  EXPECT_TRUE(ledger.duplicate_ids.empty()) << "ids answered twice: " << ledger.duplicate_ids[0];
  // The mix really ran: generations finished, streams ended, timeouts happened, models loaded.
  EXPECT_GT(ledger.statuses["generate"][200], 0);
  EXPECT_GT(ledger.statuses["stream"][200], 0);
  EXPECT_GT(ledger.slow_504 + ledger.slow_stream_timeouts, 0);
  EXPECT_GT(ledger.statuses["admin:load"][200], 0);

  // Nothing went wrong on the server's side that only its stderr would tell.
  for (const std::string& err : {server.stderr_text(), slow.stderr_text()}) {
    EXPECT_EQ(err.find("generation log write failed"), std::string::npos) << err;
    EXPECT_EQ(err.find("failed:"), std::string::npos) << err;
  }

  // ---- Resources.
  ASSERT_FALSE(rss_kb.empty());
  EXPECT_GT(*std::min_element(rss_kb.begin(), rss_kb.end()), 0) << "the server went away";
  // Under ASan, RSS measures its quarantine (freed blocks held back to catch use-after-free,
  // up to 256 MiB) and shadow memory, not the service: the growth bounds hold for the normal
  // build only, and LeakSanitizer checks the server for leaks when it exits.
  if (!kSanitized) {
    EXPECT_LE(last_max, first_max + kRssGrowthMarginKb) << "RSS grew by more than the margin";
    EXPECT_LE(all_max, kRssCapKb);
  }
  EXPECT_LE(threads_after, threads_before + kThreadSlack);
  EXPECT_LE(fds_after, fds_before + kFdSlack);

  // ---- The log: every generation exactly once, final, as the clients saw it.
  std::map<std::string, const json*> by_id;
  for (const auto& r : rows) {
    const std::string id = r["id"];
    EXPECT_TRUE(by_id.emplace(id, &r).second) << id << " is logged twice";
    const std::string st = r["status"];
    EXPECT_TRUE(st == "ok" || st == "cancelled") << id << " is logged " << r.dump();
    EXPECT_TRUE(r["finished_at"].is_number()) << r.dump();
  }
  int unseen_ok = 0, unseen_cancelled = 0;
  for (const auto& [id, row] : by_id) {
    if (ledger.seen.count(id)) continue;
    ((*row)["status"] == "ok" ? unseen_ok : unseen_cancelled)++;
  }
  for (const auto& [id, s] : ledger.seen) {
    auto it = by_id.find(id);
    if (it == by_id.end()) {
      ADD_FAILURE() << id << " (" << s.endpoint << ", " << expect_name(s.expect)
                    << ") is not in the log";
      continue;
    }
    const json& row = *it->second;
    const std::string st = row["status"];
    const bool status_ok = s.expect == Expect::kOk          ? st == "ok"
                           : s.expect == Expect::kCancelled ? st == "cancelled"
                                                            : st == "ok" || st == "cancelled";
    EXPECT_TRUE(status_ok) << id << ": the client saw " << expect_name(s.expect) << ", log "
                           << row.dump().substr(0, 400);
    EXPECT_EQ(row["endpoint"], s.endpoint) << id;
    EXPECT_EQ(row["model"], s.model) << id;
    if (s.output_ids.is_array()) {
      EXPECT_EQ(row["output_ids"], s.output_ids) << id;
    }
  }
  // Rows no client saw come from requests whose outcome the client could not know (left early)
  // or from 504 answers, which carry no id.
  EXPECT_LE(unseen_ok, ledger.unknown_outcome);
  EXPECT_GE(unseen_cancelled, ledger.timeouts_without_id);
  EXPECT_LE(unseen_cancelled + unseen_ok, ledger.timeouts_without_id + ledger.unknown_outcome);

  // The second server: every long request timed out, logged cancelled once.
  std::set<std::string> slow_logged;
  for (const auto& r : slow_rows) {
    EXPECT_TRUE(slow_logged.insert(r["id"].get<std::string>()).second) << r["id"];
    EXPECT_EQ(r["status"], "cancelled") << r.dump().substr(0, 400);
    EXPECT_NE(r["error"].get<std::string>().find("time limit"), std::string::npos) << r["error"];
  }
  EXPECT_EQ(static_cast<int>(slow_rows.size()), ledger.slow_504 + ledger.slow_stream_timeouts);
  for (const auto& id : ledger.slow_ids) EXPECT_TRUE(slow_logged.count(id)) << id;

  // /metrics agrees with the log, nothing was dropped, no 5xx but the documented ones.
  std::map<std::string, double> log_by_status;
  for (const auto& [st, n] : row_status) log_by_status[st] = n;
  EXPECT_EQ(metric_by(metrics, "dlx_generations_total", "status"), log_by_status);
  EXPECT_EQ(metric_by(slow_metrics, "dlx_generations_total", "")[""],
            static_cast<double>(slow_rows.size()));
  EXPECT_NE(metrics.find("\ndlx_log_dropped_total 0\n"), std::string::npos);
  EXPECT_NE(slow_metrics.find("\ndlx_log_dropped_total 0\n"), std::string::npos);
  for (const auto& [code, n] : metric_by(metrics, "dlx_http_requests_total", "code")) {
    if (code.size() == 3 && code[0] == '5') {
      EXPECT_TRUE(code == "503" || code == "504") << n << " responses with status " << code;
    }
  }

  // The database file, read after the server stopped, holds exactly what the API listed; the
  // deleted aliases are gone from the registry table.
  const auto db_gens =
      db_rows(dir.file("soak.db"), "SELECT id, status FROM generations ORDER BY seq");
  EXPECT_EQ(db_gens.size(), rows.size());
  for (const auto& g : db_gens) {
    auto it = by_id.find(g.at("id"));
    if (it == by_id.end()) {
      ADD_FAILURE() << g.at("id") << " is in the database but was not listed";
    } else {
      EXPECT_EQ((*it->second)["status"], g.at("status")) << g.at("id");
    }
  }
  std::set<std::string> db_models;
  for (const auto& m : db_rows(dir.file("soak.db"), "SELECT name FROM models"))
    db_models.insert(m.at("name"));
  EXPECT_EQ(db_models, std::set<std::string>(kModels.begin(), kModels.end()))
      << "the models table keeps rows of models deleted over HTTP";
}

}  // namespace
}  // namespace dlx::test
