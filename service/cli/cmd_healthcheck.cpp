// `diffulex healthcheck`: GET a running service's /health and exit 0 only on HTTP 200, so a
// container health check needs no curl in the image.
#include <httplib.h>

#include <iostream>
#include <string>

#include "service/cli/args.h"
#include "service/cli/commands.h"

namespace dlx::cli {

namespace {

constexpr const char* kDefaultUrl = "http://127.0.0.1:8080/health";

struct Url {
  std::string origin;  // http://host:port
  std::string path;    // /health when the URL names none
};

Url split_url(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) {
    throw UsageError("--url must start with http:// (got '" + url + "')");
  }
  const size_t slash = url.find('/', scheme.size());
  Url u{url.substr(0, slash), slash == std::string::npos ? "/health" : url.substr(slash)};
  if (u.origin.size() == scheme.size()) throw UsageError("--url has no host: '" + url + "'");
  return u;
}

}  // namespace

int cmd_healthcheck(int argc, char** argv, int first) {
  Args a(argc, argv, first, {"url", "timeout"}, {"help"});
  if (a.flag("help")) {
    std::cout << "usage: diffulex healthcheck [--url " << kDefaultUrl << "] [--timeout 3]\n"
              << "GETs the URL (path /health when it names none) and exits 0 when the answer\n"
              << "is HTTP 200, 1 when the service is unreachable, times out (seconds) or\n"
              << "answers anything else. Prints the answer's body or the reason.\n";
    return 0;
  }
  const Url url = split_url(a.str("url", kDefaultUrl));
  const double timeout = a.number("timeout", 3.0);
  if (!(timeout > 0 && timeout <= 3600)) throw UsageError("--timeout must be in (0, 3600] seconds");
  const auto secs = static_cast<time_t>(timeout);
  const auto usecs = static_cast<time_t>((timeout - static_cast<double>(secs)) * 1e6);

  httplib::Client client(url.origin);
  client.set_connection_timeout(secs, usecs);
  client.set_read_timeout(secs, usecs);
  client.set_write_timeout(secs, usecs);
  const auto res = client.Get(url.path);
  if (!res) {
    std::cout << "unhealthy: GET " << url.origin << url.path << " failed ("
              << httplib::to_string(res.error()) << " error)\n";
    return 1;
  }
  if (res->status != 200) {
    std::cout << "unhealthy: HTTP " << res->status << " " << res->body << "\n";
    return 1;
  }
  std::cout << res->body << "\n";
  return 0;
}

}  // namespace dlx::cli
