// Matrix products y[T, N] = x[T, K] @ w[N, K]^T (+ bias) through CLBlast GEMM (row-major,
// w transposed, element offsets for row views). f32 weights: SGEMM. f16 weights on a device
// with cl_khr_fp16: HGEMM between f16 copies of x and y. Compact bf16/f16 weights: widened
// into an f32 scratch buffer first (kernels_cl/convert.cl), then SGEMM. Q8_0 / Q4_0 weights:
// our kernels (kernels_cl/quant.cl), which dequantize the blocks as they read them.
#include <clblast.h>

#include <chrono>
#include <vector>

#include "engine/backend/opencl/cl_error.h"
#include "engine/backend/opencl/opencl_backend.h"

namespace dlx::ocl {
namespace {

constexpr cl_half kHalfOne = 0x3c00, kHalfZero = 0;

// Activation rows up to which the skinny quantized kernel (one work-group per weight row, every
// weight block read once per 8 rows) beats the 32 x 32 tiles, which waste most of a tile
// when T is small.
constexpr size_t kSkinnyMaxRows = 8;

}  // namespace

void OpenClBackend::widen(const Tensor& src, cl_mem dst, int64_t n) {
  const KernelId id = src.dtype == DType::kBF16 ? kBf16ToF32 : kF16ToF32;
  set_args(kernel(id), mem_of(src), offset_of(src), dst, cl_long{0});
  launch_1d(id, n, "widen");
}

void OpenClBackend::matmul_hgemm(const Tensor& x, const Tensor& w, Tensor& y) {
  const size_t T = x.rows, K = x.cols, N = w.rows;
  const cl_mem x16 = scratch(x16_, T * K * 2), y16 = scratch(y16_, T * N * 2);
  set_args(kernel(kF32ToF16), mem_of(x), offset_of(x), x16, cl_long{0});
  launch_1d(kF32ToF16, T * K, "f32_to_f16");
  cl_command_queue q = queue_.get();
  clblast_check(
      static_cast<int>(clblast::Gemm<cl_half>(
          clblast::Layout::kRowMajor, clblast::Transpose::kNo, clblast::Transpose::kYes, T, N, K,
          kHalfOne, x16, 0, K, mem_of(w), offset_of(w), K, kHalfZero, y16, 0, N, &q, nullptr)),
      "clblast::Gemm<half>");
  // y may be a view with a row offset; widen [T, N] back into it.
  set_args(kernel(kF16ToF32), y16, cl_long{0}, mem_of(y), offset_of(y));
  launch_1d(kF16ToF32, T * N, "f16_to_f32");
}

void OpenClBackend::matmul_quant(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y) {
  const size_t T = x.rows, K = x.cols, N = w.rows;
  const bool q4 = w.dtype == DType::kQ4_0;
  // The tiles need TL x TL = 64 items per work-group (every real device has them).
  const bool skinny = T <= kSkinnyMaxRows || dev_.max_work_group < 64;
  const KernelId id = skinny ? (q4 ? kMatmulQ4_0Skinny : kMatmulQ8_0Skinny)
                             : (q4 ? kMatmulQ4_0Tiled : kMatmulQ8_0Tiled);
  const cl_kernel k = kernel(id);
  // Without a bias the kernel gets y as a placeholder buffer and never reads it.
  set_args(k, mem_of(w), cl_long{w.row0}, mem_of(x), offset_of(x), mem_of(y), offset_of(y),
           bias ? mem_of(*bias) : mem_of(y), bias ? offset_of(*bias) : cl_long{0},
           cl_int{bias != nullptr}, static_cast<cl_int>(T), static_cast<cl_int>(K),
           static_cast<cl_int>(N));
  if (skinny) {
    constexpr size_t kRowsPerGroup = 8;  // QMV_T
    const size_t wg = static_cast<size_t>(tun_.wg_qmv);
    const size_t global[2] = {N * wg, (T + kRowsPerGroup - 1) / kRowsPerGroup};
    const size_t local[2] = {wg, 1};
    launch(k, 2, global, local, "matmul_quant_skinny");
  } else {
    constexpr size_t kTile = 32, kItems = 8;  // TS, TL
    const size_t global[2] = {(N + kTile - 1) / kTile * kItems, (T + kTile - 1) / kTile * kItems};
    const size_t local[2] = {kItems, kItems};
    launch(k, 2, global, local, "matmul_quant_tiled");
  }
}

void OpenClBackend::warm_up_gemm() {
  const auto t0 = std::chrono::steady_clock::now();
  constexpr int64_t kT = 4, kK = 16, kN = 16;
  const std::vector<float> ones(kN * kK, 1.0f);
  Tensor x = make_tensor(DType::kF32, kT, kK, ones.data());
  Tensor w = make_tensor(DType::kF32, kN, kK, ones.data());
  Tensor y = make_tensor(DType::kF32, kT, kN, nullptr);
  cl_command_queue q = queue_.get();
  clblast_check(
      static_cast<int>(clblast::Gemm<float>(
          clblast::Layout::kRowMajor, clblast::Transpose::kNo, clblast::Transpose::kYes, kT, kN, kK,
          1.0f, mem_of(x), 0, kK, mem_of(w), 0, kK, 0.0f, mem_of(y), 0, kN, &q, nullptr)),
      "clblast::Gemm<float> (start-up check)");
  if (hgemm_) {
    const std::vector<uint16_t> h(kN * kK, kHalfOne);
    Tensor w16 = make_tensor(DType::kF16, kN, kK, h.data());
    matmul_hgemm(x, w16, y);
  }
  float out[kT * kN];
  cl_check(clEnqueueReadBuffer(q, mem_of(y), CL_TRUE, 0, sizeof out, out, 0, nullptr, nullptr),
           "clEnqueueReadBuffer");
  if (out[0] != static_cast<float>(kK)) {
    throw BackendError(ErrorCode::kInternal, "opencl: CLBlast start-up product gave " +
                                                 std::to_string(out[0]) + " instead of 16");
  }
  startup_.gemm_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void OpenClBackend::matmul(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y) {
  std::lock_guard<std::mutex> lock(mu_);
  if (x.cols != w.cols || y.rows != x.rows || y.cols != w.rows || x.dtype != DType::kF32 ||
      y.dtype != DType::kF32 || (bias && (bias->numel() != w.rows || bias->dtype != DType::kF32))) {
    throw Error(ErrorCode::kInternal, "opencl backend: shape mismatch in matmul");
  }
  const size_t T = x.rows, K = x.cols, N = w.rows;
  if (T == 0 || N == 0) return;
  if (dtype_is_quantized(w.dtype)) return matmul_quant(x, w, bias, y);
  cl_command_queue q = queue_.get();
  if (w.dtype == DType::kF16 && hgemm_) {
    matmul_hgemm(x, w, y);
  } else {
    cl_mem wm = mem_of(w);
    size_t w_off = offset_of(w);
    if (w.dtype != DType::kF32) {
      wm = scratch(wide_, N * K * 4);
      widen(w, wm, static_cast<int64_t>(N * K));
      w_off = 0;
    }
    clblast_check(static_cast<int>(clblast::Gemm<float>(
                      clblast::Layout::kRowMajor, clblast::Transpose::kNo, clblast::Transpose::kYes,
                      T, N, K, 1.0f, mem_of(x), offset_of(x), K, wm, w_off, K, 0.0f, mem_of(y),
                      offset_of(y), N, &q, nullptr)),
                  "clblast::Gemm<float>");
  }
  if (bias) {
    const cl_kernel k = kernel(kAddBias);
    set_args(k, mem_of(y), offset_of(y), static_cast<cl_int>(N), mem_of(*bias), offset_of(*bias));
    const size_t global[2] = {N, T};
    launch(k, 2, global, nullptr, "add_bias_f32");
  }
}

}  // namespace dlx::ocl
