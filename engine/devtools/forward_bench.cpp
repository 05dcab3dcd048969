#include "engine/devtools/forward_bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <ctime>

namespace dlx::bench {

ForwardFlops forward_flops(const ModelConfig& c, int64_t T, int block_size) {
  const double D = c.hidden, F = c.intermediate, V = c.vocab;
  const double qd = c.q_dim(), kvd = c.kv_dim();
  const double per_layer = D * qd + 2 * D * kvd + qd * D + 3 * D * F;
  ForwardFlops f;
  f.linear = 2.0 * (c.layers * per_layer + V * D) * static_cast<double>(T);
  double pairs = 0;  // (query, key) pairs the attention visits
  for (int64_t t = 0; t < T; ++t) {
    const int64_t keys =
        block_size > 0 ? std::min<int64_t>(T, (t / block_size + 1) * block_size) : T;
    pairs += static_cast<double>(keys);
  }
  f.attention = 4.0 * pairs * c.heads * c.head_dim * c.layers;
  return f;
}

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return 1e3 * static_cast<double>(ts.tv_sec) + 1e-6 * static_cast<double>(ts.tv_nsec);
}

}  // namespace

ForwardTiming time_forward(const Model& model, int canvas, int block_size, int reps, int warmup,
                           int threads) {
  const ModelConfig& c = model.config();
  ForwardTiming r;
  r.canvas = canvas;
  r.block_size = block_size;
  r.reps = reps;
  r.flops = forward_flops(c, canvas, block_size);

  // Token ids spread over the vocabulary (a fixed LCG): the embedding rows touched do not
  // change the matmul work, but the gather should not hit one cache line either.
  std::vector<int32_t> ids(canvas);
  uint32_t s = 12345;
  for (auto& id : ids) {
    s = s * 1664525u + 1013904223u;
    id = static_cast<int32_t>((s >> 8) % static_cast<uint32_t>(c.vocab));
  }
  Session st = model.new_session(canvas, canvas);
  ForwardSpan span;
  span.ids = ids;
  span.block_size = block_size;

  using Clock = std::chrono::steady_clock;
  std::vector<double> cpu;
  auto once = [&] {
    const double c0 = process_cpu_ms();
    const auto t0 = Clock::now();
    model.forward(st, span);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    cpu.push_back((process_cpu_ms() - c0) / std::max(1, threads));
    return ms;
  };
  r.first_ms = once();
  for (int i = 1; i < warmup; ++i) once();
  cpu.clear();
  for (int i = 0; i < reps; ++i) r.ms.push_back(once());
  if (!r.ms.empty()) {
    r.median_ms = median(r.ms);
    r.min_ms = *std::min_element(r.ms.begin(), r.ms.end());
    r.max_ms = *std::max_element(r.ms.begin(), r.ms.end());
    r.cpu_ms = median(cpu);
    r.gflops = r.flops.total() / (r.median_ms * 1e-3) / 1e9;
  }
  return r;
}

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // Linux reports KiB
}

}  // namespace dlx::bench
