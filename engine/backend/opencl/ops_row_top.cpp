// Per-row argmax / confidence reduction (kernels_cl/row_top.cl): only [rows, 2] ids and
// [rows, 4] floats are read back, not the [rows, V] logits.
#include "engine/backend/opencl/cl_error.h"
#include "engine/backend/opencl/opencl_backend.h"

namespace dlx::ocl {

void OpenClBackend::row_argmax_prob(const Tensor& logits, int32_t exclude_id,
                                    std::span<RowTop> out) {
  std::lock_guard<std::mutex> lock(mu_);
  if (static_cast<int64_t>(out.size()) != logits.rows || logits.dtype != DType::kF32) {
    throw Error(ErrorCode::kInternal, "opencl backend: bad operands of row_argmax_prob");
  }
  const size_t rows = out.size();
  if (rows == 0) return;
  const cl_mem ids = scratch(top_ids_, rows * 2 * sizeof(cl_int));
  const cl_mem vals = scratch(top_vals_, rows * 4 * sizeof(cl_float));
  const cl_kernel k = kernel(kRowTop);
  set_args(k, mem_of(logits), offset_of(logits), static_cast<cl_int>(logits.cols),
           static_cast<cl_int>(exclude_id), ids, vals);
  const size_t local = tun_.wg_reduce, global = rows * local;
  launch(k, 1, &global, &local, "row_top");
  std::vector<cl_int>& hi = top_ids_host_;
  std::vector<cl_float>& hv = top_vals_host_;
  hi.resize(rows * 2);
  hv.resize(rows * 4);
  cl_check(clEnqueueReadBuffer(queue_.get(), ids, CL_FALSE, 0, hi.size() * sizeof(cl_int),
                               hi.data(), 0, nullptr, nullptr),
           "clEnqueueReadBuffer(row_top ids)");
  cl_check(clEnqueueReadBuffer(queue_.get(), vals, CL_TRUE, 0, hv.size() * sizeof(cl_float),
                               hv.data(), 0, nullptr, nullptr),
           "clEnqueueReadBuffer(row_top values)");
  for (size_t r = 0; r < rows; ++r) {
    out[r].id = hi[r * 2];
    out[r].id2 = hi[r * 2 + 1];
    out[r].logit = hv[r * 4];
    out[r].prob = hv[r * 4 + 1];
    out[r].prob2 = hv[r * 4 + 2];
    out[r].neg_entropy = hv[r * 4 + 3];
  }
}

}  // namespace dlx::ocl
