// dlx_http_load: a small loopback load generator for `diffulex serve`. N client threads send
// the same POST back to back over keep-alive connections; prints requests/s and latency
// percentiles. Not a test: the numbers in README come from it.
//
//   dlx_http_load --port 8080 [--host 127.0.0.1] [--path /v1/generate] [--body JSON]
//                 [--concurrency 8] [--requests 200] [--api-key KEY]
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

const char* kDefaultBody = R"({"model":"llada","prompt_ids":[33,123,286,185,229,329,477,465],)"
                           R"("diffusion":{"gen_length":16,"block_length":16,"steps":16}})";

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * v.size()));
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", path = "/v1/generate", body = kDefaultBody, key;
  int port = 8080, concurrency = 8, requests = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--host")
      host = v;
    else if (k == "--port")
      port = std::atoi(v.c_str());
    else if (k == "--path")
      path = v;
    else if (k == "--body")
      body = v;
    else if (k == "--concurrency")
      concurrency = std::max(1, std::atoi(v.c_str()));
    else if (k == "--requests")
      requests = std::max(1, std::atoi(v.c_str()));
    else if (k == "--api-key")
      key = v;
    else {
      std::fprintf(stderr, "dlx_http_load: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  std::atomic<int> next{0}, failures{0};
  std::mutex mu;
  std::vector<double> latencies_ms;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&] {
      httplib::Client c(host, port);
      c.set_keep_alive(true);
      c.set_tcp_nodelay(true);  // as curl and real clients do
      c.set_read_timeout(300, 0);
      httplib::Headers h;
      if (!key.empty()) h.emplace("Authorization", "Bearer " + key);
      std::vector<double> mine;
      while (next++ < requests) {
        const auto s = std::chrono::steady_clock::now();
        auto r = c.Post(path.c_str(), h, body, "application/json");
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count();
        if (!r || r->status != 200) {
          ++failures;
          continue;
        }
        mine.push_back(ms);
      }
      std::lock_guard<std::mutex> lock(mu);
      latencies_ms.insert(latencies_ms.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "concurrency %d: %zu ok, %d failed in %.2f s: %.1f requests/s, latency p50 %.1f ms, "
      "p99 %.1f ms\n",
      concurrency, latencies_ms.size(), failures.load(), secs, latencies_ms.size() / secs,
      percentile(latencies_ms, 50), percentile(latencies_ms, 99));
  return failures > 0 ? 1 : 0;
}
