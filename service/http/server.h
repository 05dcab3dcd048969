// Server: one `diffulex serve` process — database, generation log, model registry, scheduler
// and the HTTP front end — and its lifecycle: bind, load models in the background, serve, and
// on SIGTERM/SIGINT drain within the grace period and exit 0.
#pragma once

#include <memory>

#include "service/http/serve_config.h"

namespace dlx::http {

class Server {
 public:
  // Opens the database (migrating it; rows left running by a dead process become
  // 'interrupted') and reads the --model folders. Throws Error on bad settings.
  explicit Server(ServeConfig cfg);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, prints the URL, serves until SIGTERM or SIGINT, shuts down gracefully. The caller
  // must have blocked SIGTERM and SIGINT in every thread (block_shutdown_signals()) before
  // constructing the Server. Returns the process exit code.
  int run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Blocks SIGTERM and SIGINT in the calling thread (and threads it starts later), so that
// Server::run() receives them with sigwait; ignores SIGPIPE.
void block_shutdown_signals();

}  // namespace dlx::http
