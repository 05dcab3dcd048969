// Service: the parts of a running server that request handlers share (all owned by Server;
// handlers only borrow them).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <random>
#include <string>

#include "service/db/db.h"
#include "service/db/generation_log.h"
#include "service/http/router.h"
#include "service/http/serve_config.h"
#include "service/jobs/model_registry.h"
#include "service/jobs/scheduler.h"
#include "service/metrics/metrics.h"

namespace dlx::http {

// Random request ids ("cmpl-" + 24 hex digits).
class IdGenerator {
 public:
  IdGenerator() : rng_(std::random_device{}()) {}
  std::string next(const std::string& prefix);

 private:
  std::mutex mu_;
  std::mt19937_64 rng_;
};

struct Service {
  const ServeConfig& cfg;
  db::Db& db;
  db::GenerationLog& log;
  Metrics& metrics;
  ModelRegistry& models;
  Scheduler& scheduler;
  IdGenerator ids;
  std::atomic<bool> draining{false};
  // Generation requests between acceptance and the last byte of their response.
  std::atomic<int> in_flight{0};
  // The HTTP connection gauges for /metrics (set once the server listens).
  std::function<void(GaugeSnapshot&)> connection_gauges;
};

// The route tables, one file each.
void add_model_routes(Router& router, Service& s);
void add_generation_routes(Router& router, Service& s);
void add_admin_routes(Router& router, Service& s);
void add_ollama_routes(Router& router, Service& s);

// Validates a generation request of any endpoint, queues it, and answers: one JSON object, or
// its endpoint's stream (routes_generate.cpp; the Ollama routes use it too).
void handle_generation(Service& s, Endpoint ep, const httplib::Request& req,
                       httplib::Response& res);

}  // namespace dlx::http
