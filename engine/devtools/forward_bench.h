// Forward benchmark: times repeated forward passes of a model over canvases of given lengths
// and counts their floating point work, the numbers behind `diffulex bench`.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/model/model.h"

namespace dlx::bench {

// Work of one forward over T tokens at positions [0, T) with every row's logits computed.
struct ForwardFlops {
  double linear = 0;     // 2 x (weights of every matmul, LM head included) x T
  double attention = 0;  // 4 x (query, visible key) pairs x H x hd, summed over layers
  double total() const { return linear + attention; }
};

// block_size 0: every query sees all keys; B: query at position p sees keys [0, (p/B + 1) * B).
// The T tokens sit at positions [context, context + T), after `context` cached ones.
ForwardFlops forward_flops(const ModelConfig& c, int64_t T, int block_size, int64_t context = 0);

struct ForwardTiming {
  int canvas = 0;
  int context = 0;  // cached positions before the canvas
  int block_size = 0;
  int reps = 0;
  double first_ms = 0;  // the first (cold) forward: page faults of the weights included
  double median_ms = 0, min_ms = 0, max_ms = 0;
  std::vector<double> ms;  // every timed forward
  // Median CPU time of this process per forward divided by `threads`: close to median_ms on an
  // idle machine; much lower when other processes share the cores (or threads sit idle).
  double cpu_ms = 0;
  ForwardFlops flops;
  double gflops = 0;  // flops.total() / median
};

// One untimed warm-up of `warmup` forwards, then `reps` timed forwards over a canvas of `canvas`
// deterministic pseudo-random tokens (logits for every row, as a full denoising step).
// `threads`: the backend's thread count, for cpu_ms.
// `context` > 0: that many positions are prefilled into the KV cache first (untimed) and the
// timed forwards are the canvas after them, attending to them (a decode step with a cache).
// `profile`: the timed forwards add their per-op times there, and after each one every row's
// logits are scored by the greedy sampler (as a denoising step does), timed as "sampler".
ForwardTiming time_forward(const Model& model, int canvas, int block_size, int reps, int warmup,
                           int threads, OpProfile* profile = nullptr, int context = 0);

// Peak resident set size of this process so far, in MiB (getrusage).
double peak_rss_mb();

}  // namespace dlx::bench
