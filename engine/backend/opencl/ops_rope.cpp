// Rotate-half RoPE in place (kernels_cl/rope.cl).
#include "engine/backend/opencl/cl_error.h"
#include "engine/backend/opencl/opencl_backend.h"

namespace dlx::ocl {

void OpenClBackend::rope(Tensor& x, const Tensor& cos, const Tensor& sin, int n_heads, int head_dim,
                         int64_t pos0) {
  std::lock_guard<std::mutex> lock(mu_);
  if (x.cols != int64_t{n_heads} * head_dim || cos.cols != head_dim / 2 ||
      pos0 + x.rows > cos.rows || sin.cols != cos.cols || pos0 < 0) {
    throw Error(ErrorCode::kInternal, "opencl backend: shape mismatch in rope");
  }
  const cl_kernel k = kernel(kRope);
  set_args(k, mem_of(x), offset_of(x), static_cast<cl_int>(x.cols), mem_of(cos), offset_of(cos),
           mem_of(sin), offset_of(sin), static_cast<cl_long>(pos0), static_cast<cl_int>(head_dim));
  const size_t global[3] = {static_cast<size_t>(head_dim / 2), static_cast<size_t>(n_heads),
                            static_cast<size_t>(x.rows)};
  launch(k, 3, global, nullptr, "rope");
}

}  // namespace dlx::ocl
