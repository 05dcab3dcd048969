// Elementwise ops on device tensors: copy, add, swiglu (kernels_cl/elementwise.cl).
#include "engine/backend/opencl/cl_error.h"
#include "engine/backend/opencl/opencl_backend.h"

namespace dlx::ocl {
namespace {

void check_f32(bool ok, const char* op) {
  if (!ok) throw Error(ErrorCode::kInternal, std::string("opencl backend: bad operands of ") + op);
}

}  // namespace

void OpenClBackend::copy(const Tensor& src, Tensor& dst) {
  std::lock_guard<std::mutex> lock(mu_);
  check_f32(src.numel() == dst.numel() && src.dtype == DType::kF32 && dst.dtype == DType::kF32,
            "copy");
  const int64_t n = src.numel();
  const cl_mem s = mem_of(src), d = mem_of(dst);
  const cl_long so = offset_of(src), dof = offset_of(dst);
  const cl_kernel k = kernel(kCopy);
  // The CPU backend's copy is a memmove; overlapping ranges of one buffer go through scratch
  // so no item reads a value another item has already overwritten.
  if (s == d && so < dof + n && dof < so + n && so != dof) {
    const cl_mem t = scratch(tmp_, n * 4);
    set_args(k, s, so, t, cl_long{0});
    launch_1d(kCopy, n, "copy_f32");
    set_args(k, t, cl_long{0}, d, dof);
  } else {
    set_args(k, s, so, d, dof);
  }
  launch_1d(kCopy, n, "copy_f32");
}

void OpenClBackend::add(Tensor& x, const Tensor& y) {
  std::lock_guard<std::mutex> lock(mu_);
  check_f32(x.numel() == y.numel() && x.dtype == DType::kF32 && y.dtype == DType::kF32, "add");
  set_args(kernel(kAdd), mem_of(x), offset_of(x), mem_of(y), offset_of(y));
  launch_1d(kAdd, x.numel(), "add_f32");
}

void OpenClBackend::swiglu(const Tensor& gate, const Tensor& up, Tensor& out) {
  std::lock_guard<std::mutex> lock(mu_);
  check_f32(gate.numel() == up.numel() && out.numel() == up.numel(), "swiglu");
  set_args(kernel(kSwiglu), mem_of(gate), offset_of(gate), mem_of(up), offset_of(up), mem_of(out),
           offset_of(out));
  launch_1d(kSwiglu, out.numel(), "swiglu_f32");
}

}  // namespace dlx::ocl
