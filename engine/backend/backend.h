// Backend: the short list of device operations the forward pass is written against. The CPU
// backend is the reference; every other backend is tested op by op against it.
// Shapes are given as [rows, cols]; T = tokens in the span, D = hidden, hd = head dim.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "engine/backend/tensor.h"
#include "engine/formats/safetensors.h"

namespace dlx {

struct AttentionParams {
  int heads = 0;       // H query heads
  int kv_heads = 0;    // KV heads; query head h uses kv head h / (H / KV)
  int head_dim = 0;    // hd
  int64_t q_pos0 = 0;  // absolute position of query row 0
  int64_t n_keys = 0;  // keys are absolute positions [0, n_keys)
  int block_size = 0;  // 0: every query sees every key; B: query q sees key k iff q/B >= k/B
  float scale = 1.0f;  // usually 1/sqrt(hd)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // --- memory ---
  // Makes a weight [rows, cols] available to the device, to be multiplied with `precision`.
  // The CPU backend keeps pointing into the mmap.
  virtual Tensor upload_weight(const HostTensor& src, int64_t rows, int64_t cols,
                               Precision precision) = 0;
  // Uploads host f32 data as a weight (tables the model computes itself, e.g. RoPE).
  virtual Tensor upload_f32(const float* data, int64_t rows, int64_t cols) = 0;
  virtual Tensor alloc(int64_t rows, int64_t cols) = 0;   // f32, uninitialised
  virtual void write(Tensor& dst, const float* src) = 0;  // host -> device, dst.numel() floats
  virtual void read(const Tensor& src, float* dst) = 0;   // device -> host
  virtual void copy(const Tensor& src, Tensor& dst) = 0;  // same shape

  // --- ops (activations f32) ---
  // out[t, :] = table[ids[t], :] (table any weight dtype)
  virtual void embedding(const Tensor& table, std::span<const int32_t> ids, Tensor& out) = 0;
  // y[T, N] = x[T, K] @ w[N, K]^T (+ bias[1, N])
  virtual void matmul(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y) = 0;
  // Each group of `group` consecutive values of each row: y = x / rms(x) * w[group]
  virtual void rmsnorm(const Tensor& x, const Tensor& w, float eps, int group, Tensor& y) = 0;
  // Rotate-half RoPE in place on x[T, n_heads * hd]; row t has position pos0 + t.
  // cos/sin: [max_positions, hd/2].
  virtual void rope(Tensor& x, const Tensor& cos, const Tensor& sin, int n_heads, int head_dim,
                    int64_t pos0) = 0;
  // out[Tq, H*hd] = softmax(q k^T * scale + mask) v with k, v [>= n_keys, KV*hd].
  virtual void attention(const Tensor& q, const Tensor& k, const Tensor& v,
                         const AttentionParams& p, Tensor& out) = 0;
  // out = silu(gate) * up, elementwise.
  virtual void swiglu(const Tensor& gate, const Tensor& up, Tensor& out) = 0;
  // x += y, elementwise.
  virtual void add(Tensor& x, const Tensor& y) = 0;
  virtual void sync() {}

  // --- host work between forwards (the sampler) on the backend's CPU threads ---
  virtual int host_threads() const { return 1; }
  // Calls fn(begin, end) on disjoint chunks covering [0, n), at least `grain` items each but
  // the last; blocks until all are done. Sequential unless the backend has a thread pool.
  virtual void host_parallel_for(int64_t n, int64_t grain,
                                 const std::function<void(int64_t, int64_t)>& fn) {
    if (n > 0) fn(0, n);
    (void)grain;
  }
};

std::unique_ptr<Backend> make_cpu_backend(int threads);

}  // namespace dlx
