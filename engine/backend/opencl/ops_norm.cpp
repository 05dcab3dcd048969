// Grouped RMSNorm (kernels_cl/rmsnorm.cl): one work-group per group of values.
#include "engine/backend/opencl/cl_error.h"
#include "engine/backend/opencl/opencl_backend.h"

namespace dlx::ocl {

void OpenClBackend::rmsnorm(const Tensor& x, const Tensor& w, float eps, int group, Tensor& y) {
  std::lock_guard<std::mutex> lock(mu_);
  if (x.numel() != y.numel() || group <= 0 || x.cols % group != 0 || w.numel() != group ||
      w.dtype != DType::kF32) {
    throw Error(ErrorCode::kInternal, "opencl backend: shape mismatch in rmsnorm");
  }
  const cl_kernel k = kernel(kRmsnorm);
  set_args(k, mem_of(x), offset_of(x), mem_of(w), offset_of(w), mem_of(y), offset_of(y),
           static_cast<cl_int>(group), static_cast<cl_float>(eps));
  const size_t local = tun_.wg_reduce;
  const size_t global = static_cast<size_t>(x.numel() / group) * local;
  launch(k, 1, &global, &local, "rmsnorm");
}

}  // namespace dlx::ocl
