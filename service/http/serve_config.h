// ServeConfig: every setting of `diffulex serve`, with its default, in one place.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace dlx::http {

struct ServeConfig {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (printed at startup)
  std::string db_path = "diffulex.db";
  std::vector<std::string> models;  // --model DIR or NAME=DIR, loaded at startup
  std::string models_dir;           // root for POST /v1/models; empty disables it
  // --alias NAME[=MODEL]: names clients send, answered by MODEL (no MODEL: the only loaded one).
  std::map<std::string, std::string> aliases;
  std::vector<std::string> api_keys;  // empty: no authentication
  // Host names accepted besides IP literals and localhost (DNS-rebinding guard); "*" = any.
  std::vector<std::string> allowed_hosts;
  // Origins whose pages may call the API (CORS); empty: same-origin only.
  std::vector<std::string> cors_origins;
  int max_queue = 16;    // jobs waiting for a worker before 429
  int workers = 1;       // generation worker threads
  EngineOptions engine;  // device (default auto), compute threads (0 = all cores)
  std::string web_dir;   // playground files from disk (development); empty: the embedded copy
  size_t max_body_bytes = 1 << 20;
  double request_timeout_s = 300;  // per generation, from acceptance to the last token
  double shutdown_grace_s = 10;    // SIGTERM: time in-flight work gets before it is cancelled
  double read_timeout_s = 5;       // per socket read (headers, body, idle keep-alive)
  // A request's headers and body must arrive within this of the connection (or of the previous
  // answer on a keep-alive connection); until its headers are in, a connection holds no thread.
  double header_timeout_s = 10;
  size_t max_connections = 512;  // connections waiting for their headers; the oldest is closed
  // Admission control: session memory one generation may use (KV cache, activations, scored
  // logits). 0 = half of the physical memory divided by the workers (resolved at startup).
  uint64_t max_request_bytes = 0;
};

}  // namespace dlx::http
