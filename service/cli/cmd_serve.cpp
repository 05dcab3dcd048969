// `diffulex serve`: the HTTP service (OpenAI-compatible and native diffusion API).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "engine/util/error.h"
#include "service/cli/args.h"
#include "service/cli/commands.h"
#include "service/cli/model_loader.h"
#include "service/http/server.h"

namespace dlx::cli {
namespace {

// "a, b,,c" -> {"a", "b", "c"}
std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    std::string item = s.substr(start, end - start);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) out.push_back(item);
    start = end + 1;
  }
  return out;
}

}  // namespace

int cmd_serve(int argc, char** argv, int first) {
  Args a(argc, argv, first,
         {"host",
          "port",
          "db",
          "model",
          "models-dir",
          "api-key",
          "max-queue",
          "workers",
          "threads",
          "device",
          "web-dir",
          "max-body-bytes",
          "request-timeout",
          "shutdown-grace",
          "read-timeout",
          "header-timeout",
          "max-connections",
          "max-request-memory",
          "allowed-host",
          "cors-origin",
          "alias"},
         {"help", "no-default-model"});
  http::ServeConfig c;
  if (a.flag("help")) {
    std::cout
        << "usage: diffulex serve [--host " << c.host << "] [--port " << c.port << "] [--db PATH]\n"
        << "         [--model DIR | --model NAME=DIR]... [--models-dir DIR] [--api-key KEY]...\n"
        << "         [--max-queue " << c.max_queue << "] [--workers " << c.workers
        << "] [--threads N] [--device " << c.engine.device << "]\n"
        << "         [--web-dir DIR] [--max-body-bytes " << c.max_body_bytes
        << "] [--request-timeout " << c.request_timeout_s << "] [--shutdown-grace "
        << c.shutdown_grace_s << "] [--read-timeout " << c.read_timeout_s << "]\n"
        << "         [--header-timeout " << c.header_timeout_s << "] [--max-connections "
        << c.max_connections << "]\n"
        << "         [--max-request-memory BYTES (default: half the RAM / workers)]\n"
        << "         [--allowed-host NAME]... [--cors-origin ORIGIN]... [--no-default-model]\n"
        << "         [--alias NAME[=MODEL]]...\n"
        << "Serves the OpenAI-compatible and native API over HTTP (see README, \"HTTP service\").\n"
        << "--port 0 picks a free port. The API key may also come from DIFFULEX_API_KEY.\n"
        << "Requests must name the server by an IP address or localhost in Host, unless\n"
        << "--allowed-host (or DIFFULEX_ALLOWED_HOSTS=a,b) adds names ('*' = any); pages of other\n"
        << "origins may call the API only when --cors-origin names them ('*' = any).\n"
        << "Without --model it serves the bundled demo model as dlx-demo-llada ($DIFFULEX_MODEL\n"
        << "overrides the folder; --no-default-model serves only what --models-dir registers).\n"
        << "--alias NAME=MODEL answers requests for NAME (e.g. a name a client insists on) with\n"
        << "MODEL; --alias NAME alone, with whichever single model is loaded.\n";
    return 0;
  }
  c.host = a.str("host", c.host);
  const int64_t port = a.integer("port", c.port);
  if (port < 0 || port > 65535) throw UsageError("--port must be from 0 to 65535");
  c.port = static_cast<int>(port);
  c.db_path = a.str("db", c.db_path);
  if (c.db_path.empty()) throw UsageError("--db must name a file");
  c.models = a.all("model");
  c.models_dir = a.str("models-dir");
  // No model named: the bundled demo model (or $DIFFULEX_MODEL), also beside --models-dir, so
  // that a first request has something to answer it.
  if (c.models.empty() && !a.flag("no-default-model")) {
    try {
      c.models.push_back(default_model_dir());
    } catch (const Error& e) {
      std::cerr << "diffulex serve: " << e.what() << "; serving without models\n";
    }
  }
  if (!c.models_dir.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(c.models_dir, ec)) {
      throw UsageError("--models-dir: '" + c.models_dir + "' is not a folder");
    }
  }
  for (const std::string& spec : a.all("alias")) {
    const size_t eq = spec.find('=');
    const std::string name = spec.substr(0, eq);
    const std::string target = eq == std::string::npos ? "" : spec.substr(eq + 1);
    if (name.empty() || name.size() > 256 || (eq != std::string::npos && target.empty())) {
      throw UsageError("--alias must be NAME or NAME=MODEL (e.g. --alias gpt-4o-mini=" +
                       std::string("dlx-demo-llada), not '") + spec + "'");
    }
    if (!c.aliases.emplace(name, target).second) {
      throw UsageError("--alias: '" + name + "' is given twice");
    }
  }
  c.api_keys = a.all("api-key");
  if (const char* env = std::getenv("DIFFULEX_API_KEY"); env && *env) c.api_keys.push_back(env);
  for (const auto& k : c.api_keys) {
    if (k.empty()) throw UsageError("--api-key must not be empty");
  }
  c.allowed_hosts = a.all("allowed-host");
  if (const char* env = std::getenv("DIFFULEX_ALLOWED_HOSTS"); env && *env) {
    for (const auto& h : split_list(env)) c.allowed_hosts.push_back(h);
  }
  c.cors_origins = a.all("cors-origin");
  for (const auto& h : c.allowed_hosts) {
    if (h.empty() || h.find_first_of(" /") != std::string::npos) {
      throw UsageError("--allowed-host must be a host name such as box.lan (or '*'), not '" + h +
                       "'");
    }
  }
  for (const auto& o : c.cors_origins) {
    if (o != "*" && o.rfind("http://", 0) != 0 && o.rfind("https://", 0) != 0) {
      throw UsageError(
          "--cors-origin must be an origin such as https://app.example (or '*'), "
          "not '" +
          o + "'");
    }
  }
  const int64_t max_queue = a.integer("max-queue", c.max_queue);
  if (max_queue < 0 || max_queue > 4096) throw UsageError("--max-queue must be from 0 to 4096");
  c.max_queue = static_cast<int>(max_queue);
  const int64_t workers = a.integer("workers", c.workers);
  if (workers < 1 || workers > 64) throw UsageError("--workers must be from 1 to 64");
  c.workers = static_cast<int>(workers);
  const int64_t threads = a.integer("threads", c.engine.threads);
  if (threads < 0 || threads > 1024) throw UsageError("--threads must be >= 0 (0 = all cores)");
  c.engine = engine_options(a.str("device", c.engine.device), static_cast<int>(threads));
  c.web_dir = a.str("web-dir");
  const int64_t max_body = a.integer("max-body-bytes", static_cast<int64_t>(c.max_body_bytes));
  if (max_body < 1024) throw UsageError("--max-body-bytes must be at least 1024");
  c.max_body_bytes = static_cast<size_t>(max_body);
  c.request_timeout_s = a.number("request-timeout", c.request_timeout_s);
  if (!(c.request_timeout_s > 0)) throw UsageError("--request-timeout must be > 0 seconds");
  c.shutdown_grace_s = a.number("shutdown-grace", c.shutdown_grace_s);
  if (c.shutdown_grace_s < 0) throw UsageError("--shutdown-grace must be >= 0 seconds");
  c.read_timeout_s = a.number("read-timeout", c.read_timeout_s);
  if (!(c.read_timeout_s >= 0.1 && c.read_timeout_s <= 3600)) {
    throw UsageError("--read-timeout must be from 0.1 to 3600 seconds");
  }
  c.header_timeout_s = a.number("header-timeout", c.header_timeout_s);
  if (!(c.header_timeout_s >= 0.1 && c.header_timeout_s <= 3600)) {
    throw UsageError("--header-timeout must be from 0.1 to 3600 seconds");
  }
  const int64_t max_conn = a.integer("max-connections", static_cast<int64_t>(c.max_connections));
  if (max_conn < 1 || max_conn > 100000)
    throw UsageError("--max-connections must be from 1 to 100000");
  c.max_connections = static_cast<size_t>(max_conn);
  const int64_t max_request = a.integer("max-request-memory", 0);
  if (max_request < 0) throw UsageError("--max-request-memory must be >= 0 bytes (0 = auto)");
  c.max_request_bytes = static_cast<uint64_t>(max_request);
  if (c.max_request_bytes == 0) {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    const uint64_t ram = pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : 8ull << 30;
    c.max_request_bytes = ram / 2 / static_cast<uint64_t>(c.workers);
  }

  // Before any thread exists, so that only the server's signal thread receives them.
  http::block_shutdown_signals();
  http::Server server(std::move(c));
  return server.run();
}

}  // namespace dlx::cli
