// Embedding lookup: f32, f16 and bf16 tables (kernels_cl/embedding.cl); Q8_0 and Q4_0 tables
// kept quantized, rows dequantized as they are gathered (kernels_cl/quant.cl).
#include "engine/backend/opencl/cl_error.h"
#include "engine/backend/opencl/opencl_backend.h"

namespace dlx::ocl {

void OpenClBackend::embedding(const Tensor& table, std::span<const int32_t> ids, Tensor& out) {
  std::lock_guard<std::mutex> lock(mu_);
  if (out.rows != static_cast<int64_t>(ids.size()) || out.cols != table.cols) {
    throw Error(ErrorCode::kInternal, "opencl backend: shape mismatch in embedding");
  }
  for (int32_t id : ids) {
    if (id < 0 || id >= table.rows) {
      throw Error(ErrorCode::kInvalidArgument,
                  "token id " + std::to_string(id) + " is outside the vocabulary of " +
                      std::to_string(table.rows),
                  "ids");
    }
  }
  if (ids.empty()) return;
  const cl_mem idb = scratch(ids_, ids.size() * sizeof(int32_t));
  write_bytes(idb, 0, ids.size() * sizeof(int32_t), ids.data());
  if (dtype_is_quantized(table.dtype)) {
    // One item per 8 values of a row; the table's view is passed as its first row.
    const cl_kernel k = kernel(table.dtype == DType::kQ4_0 ? kEmbedQ4_0 : kEmbedQ8_0);
    set_args(k, mem_of(table), cl_long{table.row0}, idb, static_cast<cl_int>(table.cols),
             mem_of(out), offset_of(out));
    const size_t global[2] = {static_cast<size_t>(table.cols / 8), ids.size()};
    launch(k, 2, global, nullptr, "embedding_quant");
    return;
  }
  KernelId id = kEmbedF32;
  if (table.dtype == DType::kF16) id = kEmbedF16;
  if (table.dtype == DType::kBF16) id = kEmbedBf16;
  const cl_kernel k = kernel(id);
  set_args(k, mem_of(table), offset_of(table), idb, static_cast<cl_int>(table.cols), mem_of(out),
           offset_of(out));
  const size_t global[2] = {static_cast<size_t>(table.cols), ids.size()};
  launch(k, 2, global, nullptr, "embedding");
}

}  // namespace dlx::ocl
