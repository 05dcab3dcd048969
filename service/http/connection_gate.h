// ConnectionGate: the HTTP server's connection scheduler (cpp-httplib's TaskQueue, replaced), so
// that slow or idle clients cannot take the threads that serve requests (slowloris).
//
// httplib runs one connection per thread from accept to close, and each read waits up to
// --read-timeout, so a client that trickles its headers a byte at a time keeps a thread for as
// long as it likes. The gate changes what a thread is spent on:
//   accept -> [waiting: epoll, no thread] -> headers complete -> [a connection thread: httplib
//   reads the request, runs the route, writes the answer; keep-alive waits for the next one]
// - A new connection waits in one epoll set until its first request's header block has arrived
//   (peeked, not consumed) — at most --header-timeout after accept; when --max-connections
//   connections already wait, the oldest is closed (a slow client is always the oldest).
// - On a connection thread, a request (headers and body) must be complete within
//   --header-timeout of its start (for keep-alive: of the previous answer, plus the keep-alive
//   idle time); the watchdog shuts the socket down otherwise.
// - When most connection threads are busy, answers carry `Connection: close`, so idle
//   keep-alive connections give their threads back.
// - Pipelined requests (a second request sent before the first is answered): httplib 0.11
//   reads ahead into a per-request buffer and would drop them silently, leaving the client
//   waiting for the keep-alive timeout. The gate sees them (bytes beyond the first request) and
//   the answer closes the connection, so the client resends the rest at once (RFC 9112 9.3.2).
// - An answer that ends the connection really ends it (httplib 0.11 would go on reading after
//   `Connection: close`): nothing after it is read as a request, and the gate drains what the
//   client still sends for a moment before closing, so the close does not reset the answer.
//
// httplib hands the task queue only a closure per connection, not the socket, so the gate finds
// the socket just accepted on our port (the accept thread is the only one creating connected
// sockets there; sockets are told apart by inode, so a reused descriptor number is no confusion).
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace dlx::http {

struct GateOptions {
  int port = 0;              // the listening port: only sockets accepted on it are gated
  int threads = 8;           // connection threads
  size_t max_waiting = 512;  // connections waiting for their first request's headers
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds keep_alive_timeout{5000};
};

struct GateCounters {
  size_t waiting = 0;            // connections waiting for headers (no thread)
  int busy = 0;                  // connection threads serving a connection
  uint64_t header_timeouts = 0;  // closed: request not complete within --header-timeout
  uint64_t evicted = 0;          // closed: oldest waiting while --max-connections were waiting
  uint64_t pipelined = 0;        // answers that closed a connection because requests were pipelined
};

// How the bytes a client sent so far read as HTTP requests (for tests).
struct PeekedRequests {
  bool first_complete = false;    // the first request's header block has arrived
  bool more_after_first = false;  // bytes beyond the first request (headers + Content-Length)
};
PeekedRequests inspect_peeked(const char* data, size_t n);
// The size of `req` as it was sent (request line, headers, body), give or take whitespace.
size_t estimated_wire_bytes(const httplib::Request& req);

class ConnectionGate {
 public:
  explicit ConnectionGate(GateOptions opt);
  ~ConnectionGate();
  ConnectionGate(const ConnectionGate&) = delete;
  ConnectionGate& operator=(const ConnectionGate&) = delete;

  // A TaskQueue for httplib::Server::new_task_queue (httplib owns and deletes it; the gate
  // must outlive the server's listen loop).
  httplib::TaskQueue* make_task_queue();

  GateCounters counters() const;

  // Hooks for the connection served by the calling thread (no-ops on other threads):
  // the request has been read (headers and body): the watchdog stops.
  static void request_read();
  // The answer has been written: the next request must be complete in time.
  static void answer_sent();
  // True once the client of this thread's connection has closed (or reset) it. For handlers
  // that wait without writing (a streaming response sees it when its write fails).
  static bool client_gone();
  // Whether this answer closes the connection: `requested` (e.g. the server is draining),
  // pipelined requests, or connection threads scarce. The answer then carries
  // `Connection: close` and the connection ends once it is sent.
  static bool close_after_answer(bool requested, const httplib::Request& req);

 private:
  struct Waiting {
    std::function<void()> fn;
    ino_t inode = 0;
    std::chrono::steady_clock::time_point deadline;
    uint64_t seq = 0;
  };
  struct Ready {
    std::function<void()> fn;
    int fd = -1;
    ino_t inode = 0;
    bool pipelined = false;
  };
  struct Current;  // the connection a connection thread is serving
  class Queue;
  static thread_local Current* current_;

  void admit(std::function<void()> fn);  // on the accept thread
  void shutdown();                       // from the task queue: the listen loop ended
  void gate_loop();
  void worker_loop();
  void serve(Ready r);
  // With mu_ held.
  void on_readable(int fd);
  void expire(std::chrono::steady_clock::time_point now);
  void discard(int fd, Waiting w, const std::string* answer);
  void make_ready(int fd, Waiting w, const PeekedRequests& p);
  void linger(int fd, ino_t inode);  // takes ownership of `fd`
  void arm(int dup_fd, std::chrono::steady_clock::time_point deadline);
  void disarm(int dup_fd);
  void wake();

  const GateOptions opt_;
  int epoll_fd_ = -1, wake_fd_ = -1;
  mutable std::mutex mu_;
  std::condition_variable cv_ready_;
  std::map<int, Waiting> waiting_;  // by socket
  std::deque<Ready> ready_;
  std::map<int, std::chrono::steady_clock::time_point> armed_;  // dup'd socket -> deadline
  struct Lingering {
    std::chrono::steady_clock::time_point deadline;
    ino_t inode = 0;
  };
  std::map<int, Lingering> lingering_;  // connections ended after an answer, by our descriptor
  std::set<ino_t> known_;               // sockets the gate has seen and httplib has not yet closed
  uint64_t seq_ = 0;
  bool stopping_ = false;
  std::atomic<int> busy_{0};
  std::atomic<uint64_t> header_timeouts_{0}, evicted_{0}, pipelined_{0};
  std::thread gate_thread_;
  std::vector<std::thread> workers_;
};

}  // namespace dlx::http
