#include "engine/devtools/forward_bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "engine/decode/decode_params.h"
#include "engine/decode/sampler.h"

namespace dlx::bench {

ForwardFlops forward_flops(const ModelConfig& c, int64_t T, int block_size, int64_t context) {
  const double D = c.hidden, F = c.intermediate, V = c.vocab;
  const double qd = c.q_dim(), kvd = c.kv_dim();
  const double per_layer = D * qd + 2 * D * kvd + qd * D + 3 * D * F;
  ForwardFlops f;
  f.linear = 2.0 * (c.layers * per_layer + V * D) * static_cast<double>(T);
  double pairs = 0;  // (query, key) pairs the attention visits
  const int64_t n_keys = context + T;
  for (int64_t t = context; t < n_keys; ++t) {
    const int64_t keys =
        block_size > 0 ? std::min<int64_t>(n_keys, (t / block_size + 1) * block_size) : n_keys;
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

// Every row of the last forward's logits scored by the greedy sampler with probability
// confidence (LLaDA's, SDAR's and Fast-dLLM v2's default rule) on the backend's host threads,
// as generate() scores a step's masked rows.
void score_rows(const Model& model, Session& st, int rows, OpProfile* profile) {
  const ModelConfig& c = model.config();
  DecodeParams g = default_decode_params(c);
  g.temperature = 0;
  g.top_k = 0;
  g.top_p = 1.0;
  g.min_p = 0;
  g.confidence = ConfidenceKind::kProb;
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t grain = std::max<int64_t>(1, rows / std::max(1, model.backend().host_threads()));
  model.backend().host_parallel_for(rows, grain, [&](int64_t b, int64_t e) {
    Sampler s(g, c.vocab, c.mask_id);
    Rng rng(0);
    for (int64_t i = b; i < e; ++i) s.pick(st.logits_host.data() + i * c.vocab, rng);
  });
  OpStats& o = profile->ops["sampler"];
  o.ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ++o.calls;
}

}  // namespace

ForwardTiming time_forward(const Model& model, int canvas, int block_size, int reps, int warmup,
                           int threads, OpProfile* profile, int context) {
  const ModelConfig& c = model.config();
  ForwardTiming r;
  r.canvas = canvas;
  r.block_size = block_size;
  r.reps = reps;
  r.context = context;
  r.flops = forward_flops(c, canvas, block_size, context);

  // Token ids spread over the vocabulary (a fixed LCG): the embedding rows touched do not
  // change the matmul work, but the gather should not hit one cache line either.
  std::vector<int32_t> ids(static_cast<size_t>(context) + canvas);
  uint32_t s = 12345;
  for (auto& id : ids) {
    s = s * 1664525u + 1013904223u;
    id = static_cast<int32_t>((s >> 8) % static_cast<uint32_t>(c.vocab));
  }
  Session st = model.new_session(context + canvas, std::max(context, canvas), canvas);
  if (context > 0) {
    ForwardSpan pre;
    pre.ids = std::span<const int32_t>(ids).first(context);
    pre.block_size = block_size;
    pre.logits_begin = pre.logits_end = 0;  // the cache only
    model.forward(st, pre);
  }
  ForwardSpan span;
  span.ids = std::span<const int32_t>(ids).subspan(context);
  span.pos0 = context;
  span.n_keys = context + canvas;
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
  if (profile) {
    span.profile = profile;
    for (int i = 0; i < reps; ++i) {
      r.ms.push_back(once());
      score_rows(model, st, canvas, profile);
    }
    span.profile = nullptr;
  } else {
    for (int i = 0; i < reps; ++i) r.ms.push_back(once());
  }
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
