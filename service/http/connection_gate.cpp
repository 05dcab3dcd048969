#include "service/http/connection_gate.h"

#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "service/http/socket_bytes.h"

namespace dlx::http {
namespace {

using Clock = std::chrono::steady_clock;

// Enough for any header block httplib accepts; a longer one is handed over for httplib to refuse.
constexpr size_t kPeekBytes = 16 * 1024;
// How long a connection we ended may go on sending before it is closed regardless.
constexpr std::chrono::seconds kLingerTime{2};

// What a connection closed by the gate is told (best effort: the client may not be reading).
std::string close_answer(const char* status, const char* code, const char* message) {
  const std::string body = std::string("{\"error\":{\"message\":\"") + message +
                           "\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"" +
                           code + "\"}}\n";
  return std::string("HTTP/1.1 ") + status +
         "\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}
const std::string kTimeoutAnswer = close_answer(
    "408 Request Timeout", "request_timeout", "the request did not arrive within --header-timeout");
const std::string kBusyAnswer =
    close_answer("503 Service Unavailable", "too_many_connections",
                 "too many connections are waiting to send a request (--max-connections)");

struct Socket {
  int fd = -1;
  ino_t inode = 0;
};

int local_port_of(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof(a);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return -1;
  if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&a)->sin_port);
  if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&a)->sin6_port);
  return -1;
}

bool has_peer(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof(a);
  return getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
}

// The inode of the socket descriptor `name` of /proc/self/fd names ("socket:[123]"), or 0 for
// anything else. Read from the link, not with fstat on the descriptor: the walk looks at
// descriptors other threads are opening and closing, and must not touch them (ThreadSanitizer
// reports fstat there as a race, and its runtime crashes building the report).
ino_t socket_inode_of(int proc_fd_dir, const char* name) {
  char target[64];
  const ssize_t n = readlinkat(proc_fd_dir, name, target, sizeof(target) - 1);
  if (n <= 0) return 0;
  target[n] = '\0';
  constexpr char kPrefix[] = "socket:[";
  if (std::strncmp(target, kPrefix, sizeof(kPrefix) - 1) != 0) return 0;
  return static_cast<ino_t>(std::strtoull(target + sizeof(kPrefix) - 1, nullptr, 10));
}

// The connected socket on `port` that the gate has not seen yet: the one just accepted.
Socket find_accepted_socket(int port, const std::set<ino_t>& known) {
  Socket found;
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return found;
  while (dirent* e = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || fd < 0 || fd == dirfd(dir)) continue;
    const ino_t inode = socket_inode_of(dirfd(dir), e->d_name);
    if (inode == 0 || known.count(inode)) continue;
    if (local_port_of(static_cast<int>(fd)) != port || !has_peer(static_cast<int>(fd))) continue;
    found = {static_cast<int>(fd), inode};
    break;
  }
  closedir(dir);
  return found;
}

bool iequals_prefix(const char* line, size_t len, const char* prefix) {
  const size_t p = std::strlen(prefix);
  if (len < p) return false;
  for (size_t i = 0; i < p; ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != prefix[i]) return false;
  }
  return true;
}

}  // namespace

size_t estimated_wire_bytes(const httplib::Request& req) {
  size_t n = req.method.size() + 1 + req.target.size() + 1 + req.version.size() + 2 + 2;
  for (const auto& [name, value] : req.headers) {
    // httplib adds these itself; they were not sent.
    if (name == "REMOTE_ADDR" || name == "REMOTE_PORT" || name == "LOCAL_ADDR" ||
        name == "LOCAL_PORT") {
      continue;
    }
    n += name.size() + 2 + value.size() + 2;
  }
  // Bodies read through a content reader are not in `req.body`: Content-Length tells.
  size_t body = req.body.size();
  if (req.has_header("Content-Length")) {
    body = std::max<size_t>(
        body, std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10));
  }
  return n + body;
}

PeekedRequests inspect_peeked(const char* data, size_t n) {
  PeekedRequests r;
  size_t pos = 0, content_length = 0;
  bool chunked = false, first_line = true;
  while (pos < n) {
    const void* nl = std::memchr(data + pos, '\n', n - pos);
    if (!nl) return r;  // the header block is not complete yet
    const size_t end = static_cast<size_t>(static_cast<const char*>(nl) - data);
    size_t len = end - pos;
    if (len > 0 && data[pos + len - 1] == '\r') --len;
    const char* line = data + pos;
    pos = end + 1;
    if (len == 0) {
      if (first_line) continue;  // empty lines before the request line are allowed
      r.first_complete = true;
      // A chunked body's end is not known from the headers: assume nothing follows.
      r.more_after_first = !chunked && n - pos > content_length;
      return r;
    }
    first_line = false;
    if (iequals_prefix(line, len, "content-length:")) {
      content_length =
          static_cast<size_t>(std::strtoull(std::string(line + 15, len - 15).c_str(), nullptr, 10));
    } else if (iequals_prefix(line, len, "transfer-encoding:")) {
      chunked = true;
    }
  }
  return r;
}

// The connection a connection thread is serving.
struct ConnectionGate::Current {
  ConnectionGate* gate = nullptr;
  int fd = -1;      // httplib's descriptor of the socket
  int dup_fd = -1;  // ours
  bool pipelined = false;
  bool closing = false;      // this answer ends the connection
  uint64_t read_before = 0;  // bytes read from the socket before the current request
};

thread_local ConnectionGate::Current* ConnectionGate::current_ = nullptr;

// httplib's view of the gate: it hands over each accepted connection and, when its listen loop
// ends, asks the queue to shut down.
class ConnectionGate::Queue : public httplib::TaskQueue {
 public:
  explicit Queue(ConnectionGate& g) : gate_(g) {}
  void enqueue(std::function<void()> fn) override { gate_.admit(std::move(fn)); }
  void shutdown() override { gate_.shutdown(); }

 private:
  ConnectionGate& gate_;
};

ConnectionGate::ConnectionGate(GateOptions opt) : opt_(opt) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    throw std::runtime_error(std::string("connection gate: ") + std::strerror(errno));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  gate_thread_ = std::thread([this] { gate_loop(); });
  for (int i = 0; i < std::max(1, opt_.threads); ++i) {
    workers_.emplace_back([this] { worker_loop(); });
  }
}

ConnectionGate::~ConnectionGate() {
  shutdown();
  ::close(epoll_fd_);
  ::close(wake_fd_);
}

httplib::TaskQueue* ConnectionGate::make_task_queue() {
  return new Queue(*this);
}

GateCounters ConnectionGate::counters() const {
  GateCounters c;
  {
    std::lock_guard<std::mutex> lock(mu_);
    c.waiting = waiting_.size();
  }
  c.busy = busy_.load();
  c.header_timeouts = header_timeouts_.load();
  c.evicted = evicted_.load();
  c.pipelined = pipelined_.load();
  return c;
}

void ConnectionGate::wake() {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof(one));
}

void ConnectionGate::admit(std::function<void()> fn) {
  std::vector<std::pair<int, Waiting>> evict;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const Socket s = stopping_ ? Socket{} : find_accepted_socket(opt_.port, known_);
    if (s.fd < 0) {
      // Not found (or stopping): serve it ungated rather than lose it.
      ready_.push_back({std::move(fn), -1, 0, false});
      cv_ready_.notify_one();
      return;
    }
    known_.insert(s.inode);
    Waiting w{std::move(fn), s.inode, Clock::now() + opt_.header_timeout, ++seq_};
    char buf[kPeekBytes];
    const ssize_t n = recv(s.fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) {
      const PeekedRequests p = inspect_peeked(buf, static_cast<size_t>(n));
      if (p.first_complete || static_cast<size_t>(n) == sizeof(buf)) {
        make_ready(s.fd, std::move(w), p);
        return;
      }
    }
    // The oldest waiting connections make room: a slow client is the one that waits longest.
    while (!waiting_.empty() && waiting_.size() >= opt_.max_waiting) {
      auto oldest = std::min_element(waiting_.begin(), waiting_.end(),
                                     [](auto& a, auto& b) { return a.second.seq < b.second.seq; });
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, oldest->first, nullptr);
      evict.emplace_back(oldest->first, std::move(oldest->second));
      waiting_.erase(oldest);
      ++evicted_;
    }
    waiting_.emplace(s.fd, std::move(w));
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.fd = s.fd;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, s.fd, &ev);
  }
  wake();  // the earliest deadline may have changed
  for (auto& [fd, w] : evict) discard(fd, std::move(w), &kBusyAnswer);
}

// Closes a connection httplib has not read from: the closure still owns the socket, so it runs
// on a socket already shut down (httplib sees the end of the stream and closes it at once).
void ConnectionGate::discard(int fd, Waiting w, const std::string* answer) {
  if (answer) {
    [[maybe_unused]] const ssize_t n =
        send(fd, answer->data(), answer->size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  ::shutdown(fd, SHUT_RDWR);
  w.fn();
  std::lock_guard<std::mutex> lock(mu_);
  known_.erase(w.inode);
}

void ConnectionGate::make_ready(int fd, Waiting w, const PeekedRequests& p) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  Ready r{std::move(w.fn), fd, w.inode, p.more_after_first};
  ready_.push_back(std::move(r));
  cv_ready_.notify_one();
}

void ConnectionGate::gate_loop() {
  epoll_event events[64];
  for (;;) {
    int timeout_ms = 1000;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      const auto now = Clock::now();
      auto earliest = now + std::chrono::milliseconds(timeout_ms);
      for (const auto& [fd, w] : waiting_) earliest = std::min(earliest, w.deadline);
      for (const auto& [fd, d] : armed_) earliest = std::min(earliest, d);
      for (const auto& [fd, l] : lingering_) earliest = std::min(earliest, l.deadline);
      timeout_ms = static_cast<int>(std::max<int64_t>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(earliest - now).count() + 1));
    }
    const int n = epoll_wait(epoll_fd_, events, 64, timeout_ms);
    std::vector<std::pair<int, Waiting>> closed, expired;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == wake_fd_) {
          uint64_t v;
          [[maybe_unused]] const ssize_t r = ::read(wake_fd_, &v, sizeof(v));
          continue;
        }
        if (auto l = lingering_.find(fd); l != lingering_.end()) {
          char drop[kPeekBytes];
          ssize_t got = 0;
          while ((got = recv(fd, drop, sizeof(drop), MSG_DONTWAIT)) > 0) {
          }
          if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
            ::close(fd);
            known_.erase(l->second.inode);
            lingering_.erase(l);
          }
          continue;
        }
        auto it = waiting_.find(fd);
        if (it == waiting_.end()) continue;
        char buf[kPeekBytes];
        const ssize_t got = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
          epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
          closed.emplace_back(fd, std::move(it->second));
          waiting_.erase(it);
          continue;
        }
        if (got < 0) continue;
        const PeekedRequests p = inspect_peeked(buf, static_cast<size_t>(got));
        if (p.first_complete || static_cast<size_t>(got) == sizeof(buf)) {
          make_ready(fd, std::move(it->second), p);
          waiting_.erase(it);
        }
      }
      const auto now = Clock::now();
      for (auto it = waiting_.begin(); it != waiting_.end();) {
        if (it->second.deadline <= now) {
          epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->first, nullptr);
          expired.emplace_back(it->first, std::move(it->second));
          it = waiting_.erase(it);
          ++header_timeouts_;
        } else {
          ++it;
        }
      }
      for (auto it = lingering_.begin(); it != lingering_.end();) {
        if (it->second.deadline <= now) {
          epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->first, nullptr);
          ::close(it->first);
          known_.erase(it->second.inode);
          it = lingering_.erase(it);
        } else {
          ++it;
        }
      }
      // A request on a connection thread that is not complete in time: shutting the socket
      // down ends httplib's read, and the thread is free again.
      for (auto it = armed_.begin(); it != armed_.end();) {
        if (it->second <= now) {
          ::shutdown(it->first, SHUT_RDWR);
          it = armed_.erase(it);
          ++header_timeouts_;
        } else {
          ++it;
        }
      }
    }
    for (auto& [fd, w] : closed) discard(fd, std::move(w), nullptr);
    for (auto& [fd, w] : expired) discard(fd, std::move(w), &kTimeoutAnswer);
  }
}

void ConnectionGate::worker_loop() {
  for (;;) {
    Ready r;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_ready_.wait(lock, [&] { return stopping_ || !ready_.empty(); });
      if (ready_.empty()) return;
      r = std::move(ready_.front());
      ready_.pop_front();
      if (stopping_ && r.fd >= 0) {
        // The server is stopping: close without serving.
        lock.unlock();
        ::shutdown(r.fd, SHUT_RDWR);
        r.fn();
        std::lock_guard<std::mutex> again(mu_);
        known_.erase(r.inode);
        continue;
      }
    }
    serve(std::move(r));
  }
}

void ConnectionGate::serve(Ready r) {
  Current cur;
  cur.gate = this;
  cur.pipelined = r.pipelined;
  // Our own descriptor of the socket: the watchdog may shut it down while httplib owns (and at
  // the end closes) the original, and it cannot be reused by another connection meanwhile.
  cur.fd = r.fd;
  cur.dup_fd = r.fd >= 0 ? ::dup(r.fd) : -1;
  if (cur.dup_fd >= 0) arm(cur.dup_fd, Clock::now() + opt_.header_timeout);
  current_ = &cur;
  ++busy_;
  r.fn();  // httplib: requests on this connection until it closes
  --busy_;
  current_ = nullptr;
  if (cur.dup_fd >= 0) {
    disarm(cur.dup_fd);
    if (cur.closing) {
      linger(cur.dup_fd, r.inode);  // the socket stays known until the gate closes it
      return;
    }
    ::close(cur.dup_fd);
  }
  std::lock_guard<std::mutex> lock(mu_);
  known_.erase(r.inode);
}

// A connection we ended after an answer: the client may still be sending (the rest of a body
// we refused, pipelined requests). Closing a socket with unread data resets the connection,
// and the client could lose the answer; so, without a thread, read and drop what arrives until
// the client closes or kLingerTime passes, then close.
void ConnectionGate::linger(int fd, ino_t inode) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) {
    ::close(fd);
    known_.erase(inode);
    return;
  }
  lingering_[fd] = {Clock::now() + kLingerTime, inode};
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = fd;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  wake();
}

void ConnectionGate::arm(int dup_fd, Clock::time_point deadline) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    armed_[dup_fd] = deadline;
  }
  wake();
}

void ConnectionGate::disarm(int dup_fd) {
  std::lock_guard<std::mutex> lock(mu_);
  armed_.erase(dup_fd);
}

void ConnectionGate::shutdown() {
  std::vector<std::pair<int, Waiting>> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [fd, w] : waiting_) {
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
      left.emplace_back(fd, std::move(w));
    }
    waiting_.clear();
    for (const auto& [fd, l] : lingering_) {
      ::close(fd);
      known_.erase(l.inode);
    }
    lingering_.clear();
    // Connections between requests (idle keep-alive, or a next request still arriving) would
    // hold their threads, and so the exit, for up to the keep-alive timeout: end them. Those
    // running a request are not armed and finish as usual.
    for (const auto& [dup_fd, deadline] : armed_) ::shutdown(dup_fd, SHUT_RDWR);
  }
  wake();
  cv_ready_.notify_all();
  if (gate_thread_.joinable()) gate_thread_.join();
  for (auto& [fd, w] : left) discard(fd, std::move(w), nullptr);
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
}

void ConnectionGate::request_read() {
  if (current_ && current_->dup_fd >= 0) current_->gate->disarm(current_->dup_fd);
}

void ConnectionGate::answer_sent() {
  Current* c = current_;
  if (!c || c->dup_fd < 0) return;
  ConnectionGate& g = *c->gate;
  if (c->closing) {
    // httplib 0.11 keeps a connection open after an answer with `Connection: close` unless the
    // request asked for it, and would read whatever follows as the next request (the rest of a
    // refused chunked body: request smuggling). End it here: the answer is out, our end sends
    // its FIN, and httplib's descriptor now names a socket at its end, so httplib reads nothing
    // more and closes. The connection itself stays open on our descriptor to linger.
    ::shutdown(c->dup_fd, SHUT_WR);
    int ended[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ended) == 0) {
      ::close(ended[1]);
      ::dup2(ended[0], c->fd);
      ::close(ended[0]);
    } else {
      ::shutdown(c->dup_fd, SHUT_RDWR);  // no descriptor to spare: end it the hard way
    }
    return;
  }
  c->read_before = bytes_read_from(c->dup_fd).value_or(0);
  g.arm(c->dup_fd, Clock::now() + g.opt_.keep_alive_timeout + g.opt_.header_timeout);
  // Requests already waiting behind the next one: that next answer closes the connection.
  char buf[kPeekBytes];
  const ssize_t n = recv(c->dup_fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
  if (n > 0 && inspect_peeked(buf, static_cast<size_t>(n)).more_after_first) c->pipelined = true;
}

bool ConnectionGate::client_gone() {
  Current* c = current_;
  if (!c || c->dup_fd < 0) return false;
  pollfd p{c->dup_fd, static_cast<short>(POLLIN | POLLRDHUP), 0};
  if (poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) return true;
  if (p.revents & POLLIN) {
    char byte;
    // Readable with nothing to read means the end of the stream; bytes (a pipelined request)
    // do not.
    return recv(c->dup_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
  }
  return false;
}

bool ConnectionGate::close_after_answer(bool requested, const httplib::Request& req) {
  Current* c = current_;
  if (!c || c->dup_fd < 0) return requested;
  ConnectionGate& g = *c->gate;
  // Bytes waiting before we have answered: the client pipelined its next request.
  int pending = 0;
  if (ioctl(c->dup_fd, FIONREAD, &pending) == 0 && pending > 0) c->pipelined = true;
  // Or httplib read more than this request from the socket: the next one is in its buffer,
  // which it drops. Some slack for whitespace the parsed headers no longer show.
  // (A chunked body's framing is not known: no estimate.)
  const auto read = req.has_header("Transfer-Encoding") ? std::nullopt : bytes_read_from(c->dup_fd);
  if (read) {
    if (*read - c->read_before > estimated_wire_bytes(req) + 16) c->pipelined = true;
  }
  if (c->pipelined) ++g.pipelined_;
  // Threads are scarce: do not keep idle keep-alive connections on them.
  const int spare = std::max(4, g.opt_.threads / 4);
  c->closing = requested || c->pipelined || g.busy_.load() > g.opt_.threads - spare;
  return c->closing;
}

}  // namespace dlx::http
