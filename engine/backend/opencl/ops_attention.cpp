// Attention with full or block-causal masks and GQA (kernels_cl/attention.cl): one work-group
// per (query row, head), online softmax over key tiles.
#include "engine/backend/opencl/cl_error.h"
#include "engine/backend/opencl/opencl_backend.h"

namespace dlx::ocl {

void OpenClBackend::attention(const Tensor& q, const Tensor& k, const Tensor& v,
                              const AttentionParams& p, Tensor& out) {
  std::lock_guard<std::mutex> lock(mu_);
  const int hd = p.head_dim;
  if (p.heads <= 0 || p.kv_heads <= 0 || p.heads % p.kv_heads != 0 ||
      q.cols != int64_t{p.heads} * hd || out.rows != q.rows || out.cols != q.cols ||
      k.cols != int64_t{p.kv_heads} * hd || v.cols != k.cols || k.rows < p.n_keys ||
      v.rows < p.n_keys) {
    throw Error(ErrorCode::kInternal, "opencl backend: shape mismatch in attention");
  }
  if (hd > tun_.wg_attn * tun_.attn_acc) {
    throw BackendError(ErrorCode::kUnsupported, "opencl: head_dim " + std::to_string(hd) +
                                                    " exceeds this device's " +
                                                    "attention kernel limit of " +
                                                    std::to_string(tun_.wg_attn * tun_.attn_acc));
  }
  const cl_kernel kk = kernel(kAttention);
  set_args(kk, mem_of(q), offset_of(q), static_cast<cl_int>(q.cols), mem_of(k), offset_of(k),
           mem_of(v), offset_of(v), static_cast<cl_int>(k.cols), mem_of(out), offset_of(out),
           static_cast<cl_int>(out.cols), static_cast<cl_int>(p.heads),
           static_cast<cl_int>(p.kv_heads), static_cast<cl_int>(hd), static_cast<cl_long>(p.q_pos0),
           static_cast<cl_long>(p.n_keys), static_cast<cl_int>(p.block_size),
           static_cast<cl_float>(p.scale));
  const size_t local[2] = {static_cast<size_t>(tun_.wg_attn), 1};
  const size_t global[2] = {local[0] * p.heads, static_cast<size_t>(q.rows)};
  launch(kk, 2, global, local, "attention");
}

}  // namespace dlx::ocl
