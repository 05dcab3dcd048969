#include "service/http/server.h"

#include <httplib.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <optional>
#include <thread>

#include "engine/util/error.h"
#include "service/db/db.h"
#include "service/db/generation_log.h"
#include "service/http/connection_gate.h"
#include "service/http/responses.h"
#include "service/http/router.h"
#include "service/http/service.h"
#include "service/http/web_routes.h"
#include "service/jobs/job_runner.h"
#include "service/jobs/model_registry.h"
#include "service/jobs/scheduler.h"
#include "service/metrics/metrics.h"

namespace dlx::http {
namespace {

// Start of the request this HTTP thread is serving (set before routing, read by the logger).
thread_local std::optional<SteadyClock::time_point> t_request_start;

std::string describe_status(int status, size_t max_body) {
  switch (status) {
    case 413:
      return "the request body is larger than the limit of " + std::to_string(max_body) +
             " bytes (--max-body-bytes)";
    case 414:
      return "the request URI is too long";
    case 400:
      return "malformed HTTP request";
    default:
      return "HTTP error " + std::to_string(status);
  }
}

}  // namespace

std::string IdGenerator::next(const std::string& prefix) {
  uint64_t a, b;
  {
    std::lock_guard<std::mutex> lock(mu_);
    a = rng_();
    b = rng_();
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%016llx%08llx", static_cast<unsigned long long>(a),
                static_cast<unsigned long long>(b & 0xffffffffu));
  return prefix + buf;
}

void block_shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client closing mid-write is an error return, not a kill
  // A file-size limit (ulimit -f) reached by the database is a failed write, not a kill.
  signal(SIGXFSZ, SIG_IGN);
}

struct Server::Impl {
  ServeConfig cfg;
  db::Db db;
  db::GenerationLog log;
  Metrics metrics;
  ModelRegistry models;
  JobRunner runner;
  Scheduler scheduler;
  Service service;
  Router router;
  httplib::Server http;
  std::unique_ptr<ConnectionGate> gate;  // made in run(), once the port is known

  explicit Impl(ServeConfig c)
      : cfg(std::move(c)),
        db(cfg.db_path),
        log(db),
        models(db, metrics, RegistryOptions{cfg.models_dir, cfg.engine, cfg.aliases}),
        runner(metrics, log),
        scheduler(cfg.workers, cfg.max_queue, [this](Job& j) { runner.run(j); }),
        service{cfg, db, log, metrics, models, scheduler, {}, {}, {}, {}},
        router(cfg.api_keys, GuardConfig{cfg.allowed_hosts, cfg.cors_origins}) {}

  void configure_http();
  void shutdown(int signal_number, std::atomic<bool>& second_signal);
};

void Server::Impl::configure_http() {
  add_admin_routes(router, service);
  add_model_routes(router, service);
  add_generation_routes(router, service);
  add_ollama_routes(router, service);
  add_web_routes(router, cfg.web_dir);

  // Every method goes to our router, which knows 404 from 405.
  auto dispatch = [this](const httplib::Request& req, httplib::Response& res) {
    ConnectionGate::request_read();
    router.dispatch(req, res);
  };
  // Bodies are read through a content reader so --max-body-bytes holds for every transfer
  // encoding: httplib 0.11 checks payload_max_length only against Content-Length and buffers
  // a chunked body without bound. We stop reading at the limit and answer 413.
  auto dispatch_with_body = [this](const httplib::Request& req, httplib::Response& res,
                                   const httplib::ContentReader& content_reader) {
    std::string body;
    bool too_large = false;
    const bool ok = content_reader([&](const char* data, size_t n) {
      if (n > cfg.max_body_bytes - body.size()) {
        too_large = true;
        return false;
      }
      body.append(data, n);
      return true;
    });
    if (!ok) {
      // httplib sets 413 itself for an oversized Content-Length; the error handler words it.
      if (too_large)
        res.status = 413;
      else if (res.status < 400)
        res.status = 400;
      res.set_header("Connection", "close");
      return;
    }
    ConnectionGate::request_read();
    httplib::Request with_body = req;
    with_body.body = std::move(body);
    router.dispatch(with_body, res);
  };
  http.Get(".*", dispatch);
  http.Post(".*", dispatch_with_body);
  http.Put(".*", dispatch_with_body);
  http.Patch(".*", dispatch_with_body);
  http.Delete(".*", dispatch);
  http.Options(".*", dispatch);

  // Connections go through the gate (connection_gate.h): slow clients wait without a thread.
  http.new_task_queue = [this] { return gate->make_task_queue(); };
  http.set_payload_max_length(cfg.max_body_bytes);
  // Headers and body (and each SSE event) are separate writes: with Nagle's algorithm a
  // keep-alive client's delayed ACK would hold every response back ~40 ms.
  http.set_tcp_nodelay(true);
  // A client that sends its request a byte every few seconds, or idles on keep-alive, holds
  // an HTTP thread: each read waits at most read_timeout_s, and an idle connection is closed.
  const auto read_us = static_cast<time_t>(cfg.read_timeout_s * 1e6);
  http.set_read_timeout(read_us / 1000000, read_us % 1000000);
  http.set_keep_alive_timeout(static_cast<time_t>(std::max(1.0, cfg.read_timeout_s)));

  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    t_request_start = SteadyClock::now();
    // A request with neither Content-Length nor Transfer-Encoding has an empty body (RFC 9112
    // 6.3), but httplib 0.11 reads a POST/PUT/PATCH/DELETE body until the client closes: `curl
    // -X POST URL` would wait --read-timeout and get a 400. Such requests are answered here,
    // before httplib reads anything.
    if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding") &&
        (req.method == "POST" || req.method == "PUT" || req.method == "PATCH" ||
         req.method == "DELETE")) {
      ConnectionGate::request_read();
      router.dispatch(req, res);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Errors httplib raises itself (413 body too large, malformed requests) get our error shape.
  http.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        const int status = res.status;
        // httplib raises these for requests it could not frame: nothing after them can be
        // trusted to start a new request.
        res.set_header("Connection", "close");
        send_error(res,
                   error_info(status, "invalid_request_error",
                              status == 413 ? "request_too_large" : "bad_request",
                              describe_status(status, cfg.max_body_bytes)),
                   error_shape_for(req.path));
        return httplib::Server::HandlerResponse::Handled;
      }));
  http.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        send_error(res, to_error_info(ep), error_shape_for(req.path));
      });
  // While draining, tell clients to close their connections: httplib keeps an idle keep-alive
  // connection (and so the shutdown) waiting up to its 5 s keep-alive timeout otherwise.
  // Pipelined requests or scarce connection threads close the connection too (the gate).
  http.set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    // `Connection: close` already set: a refused body (413) or a malformed request.
    const bool requested = service.draining || res.get_header_value("Connection") == "close";
    if (ConnectionGate::close_after_answer(requested, req)) {
      res.set_header("Connection", "close");
    }
  });
  // Called after the last byte of every response (streams included).
  http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    ConnectionGate::answer_sent();
    double seconds = 0;
    if (t_request_start) {
      seconds = std::chrono::duration<double>(SteadyClock::now() - *t_request_start).count();
      t_request_start.reset();
    }
    metrics.request(router.label(req.method, req.path), res.status, seconds);
  });
}

Server::Server(ServeConfig cfg) {
  impl_ = std::make_unique<Impl>(std::move(cfg));
  const int interrupted = impl_->db.mark_interrupted(unix_ms());
  if (interrupted > 0) {
    std::fprintf(stderr,
                 "diffulex serve: %d generation(s) were still running when the previous server "
                 "stopped; marked interrupted\n",
                 interrupted);
  }
  impl_->models.recover_interrupted_loads();
  for (const auto& spec : impl_->cfg.models) impl_->models.add_startup_model(spec);
  impl_->models.restore();
  impl_->configure_http();
}

Server::~Server() = default;

int Server::run() {
  Impl& m = *impl_;
  // httplib listens with a backlog of 5: a burst of connections would have SYNs dropped (a
  // second's retransmit each). Keep the listening socket to widen it after bind.
  int listen_fd = -1;
  m.http.set_socket_options([&listen_fd](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listen_fd = sock;
  });
  int port = m.cfg.port;
  if (port == 0) {
    port = m.http.bind_to_any_port(m.cfg.host);
  } else if (!m.http.bind_to_port(m.cfg.host, port)) {
    port = -1;
  }
  if (port <= 0) {
    throw Error(ErrorCode::kInvalidArgument,
                "cannot listen on " + m.cfg.host + ":" + std::to_string(m.cfg.port) +
                    " (address in use, or not an address of this machine)",
                "port");
  }
  if (listen_fd >= 0) ::listen(listen_fd, SOMAXCONN);
  std::printf("diffulex serve: listening on http://%s:%d\n", m.cfg.host.c_str(), port);
  std::fflush(stdout);

  // Each streaming or waiting request holds a connection thread, so there are enough threads
  // for every queued and running job plus headroom for cheap requests (health, metrics, 429s).
  GateOptions gate;
  gate.port = port;
  gate.threads = m.cfg.max_queue + m.cfg.workers + 32;
  gate.max_waiting = m.cfg.max_connections;
  gate.header_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(m.cfg.header_timeout_s * 1000));
  gate.keep_alive_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(std::max(1.0, m.cfg.read_timeout_s) * 1000));
  m.gate = std::make_unique<ConnectionGate>(gate);
  m.service.connection_gauges = [g = m.gate.get()](GaugeSnapshot& s) {
    const GateCounters c = g->counters();
    s.connections_waiting = static_cast<int64_t>(c.waiting);
    s.connections_busy = c.busy;
    s.connections_timed_out = c.header_timeouts;
    s.connections_evicted = c.evicted;
    s.connections_pipelined = c.pipelined;
  };

  m.models.start();  // weights load in the background; /health says 503 until they are in
  std::thread listener([&m] { m.http.listen_after_bind(); });

  // Signals: the first starts a graceful shutdown, a second cancels in-flight work at once.
  std::mutex mu;
  std::condition_variable cv;
  int signal_number = 0;
  std::atomic<bool> stop_signals{false}, second_signal{false};
  std::thread signals([&] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    const timespec tick{0, 200 * 1000 * 1000};
    while (!stop_signals) {
      const int sig = sigtimedwait(&set, nullptr, &tick);
      if (sig <= 0) continue;
      std::lock_guard<std::mutex> lock(mu);
      if (signal_number == 0) {
        signal_number = sig;
        cv.notify_all();
      } else {
        second_signal = true;
        m.scheduler.cancel_all(CancelReason::kShutdown);
      }
    }
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return signal_number != 0; });
  }
  m.shutdown(signal_number, second_signal);
  m.http.stop();
  listener.join();
  stop_signals = true;
  signals.join();
  m.scheduler.stop();
  m.models.stop();
  m.log.stop();
  std::fprintf(stderr, "diffulex serve: stopped\n");
  return 0;
}

void Server::Impl::shutdown(int signal_number, std::atomic<bool>& second_signal) {
  std::fprintf(stderr,
               "diffulex serve: %s received: no new work; in-flight generations get %.0f s to "
               "finish\n",
               signal_number == SIGINT ? "SIGINT" : "SIGTERM", cfg.shutdown_grace_s);
  service.draining = true;
  scheduler.close();
  const auto grace = std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double>(cfg.shutdown_grace_s));
  if (!second_signal && !scheduler.wait_idle(SteadyClock::now() + grace)) {
    std::fprintf(stderr,
                 "diffulex serve: grace period over: cancelling %d running and %d queued "
                 "generation(s)\n",
                 scheduler.active(), scheduler.queue_depth());
  }
  // Cancelled jobs stop before their next forward and record 'cancelled'.
  scheduler.cancel_all(CancelReason::kShutdown);
  scheduler.wait_idle(SteadyClock::now() + std::chrono::seconds(30));
  // Let handlers hand the final results / errors to their clients before the sockets close.
  const auto until = SteadyClock::now() + std::chrono::seconds(2);
  while (service.in_flight > 0 && SteadyClock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Bounded: while the disk refuses writes the log cannot drain; stop() then counts the rest.
  log.flush_for(std::chrono::seconds(5));
}

}  // namespace dlx::http
