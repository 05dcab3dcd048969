// OpenClBackend: the Backend interface on one OpenCL device. Matrix products go to CLBlast;
// every other op is one of our kernels in kernels_cl/*.cl. Weights are uploaded once and stay
// on the device; activations and the KV cache are device buffers, and a Tensor view's row0
// becomes an element offset passed to kernels and CLBlast (no sub-buffers, so no alignment
// rules). Host launch code is split by op family: ops_*.cpp.
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/backend/backend_factory.h"
#include "engine/backend/opencl/cl_device.h"
#include "engine/backend/opencl/cl_handles.h"
#include "engine/backend/opencl/tunables.h"

namespace dlx::ocl {

// How matrix weights are kept on the device (DIFFULEX_OPENCL_WEIGHTS):
//  f32      every weight widened to f32 at upload; SGEMM. Exact (bf16 and f16 widen without
//           loss), twice the memory of a bf16 file. The default.
//  f16      weights converted to f16 at upload (bf16 -> f16 is exact in f16's range; a tensor
//           with a value beyond +-65504 stays f32) and multiplied with CLBlast HGEMM, the
//           activations rounded to f16 around it. Needs cl_khr_fp16; faster and half the
//           memory on GPUs with fast half math, less exact (about 1e-3 relative).
//  compact  weights keep the file's dtype (bf16 / f16) on the device; each product widens
//           the weight into an f32 scratch buffer and runs SGEMM. Half the memory, same
//           results as f32, slower.
// Block-quantized weights (Q8_0, Q4_0) stay quantized on the device in every format: their
// blocks are dequantized inside the product and gather kernels (kernels_cl/quant.cl), so a
// Q4_0 file takes about 1/7 of the memory f32 would. Only `f32` named explicitly
// (DIFFULEX_OPENCL_WEIGHTS=f32) widens them to f32 at upload, for CLBlast SGEMM. Plain
// matrices uploaded with Precision::kInt8 are quantized to Q8_0 at upload (in any format), as
// the CPU backend does. Vectors (norm weights, biases) are always f32.
enum class WeightFormat { kF32, kF16, kCompact };
const char* weight_format_name(WeightFormat f);

struct OpenClOptions {
  WeightFormat weights = WeightFormat::kF32;
  bool widen_quantized = false;  // Q8_0 / Q4_0 matrices widened to f32 (explicit `f32`)
  std::string kernels_dir;       // kernel sources from here; empty: the embedded copies
  std::string cache_dir;         // compiled-program cache; empty: none
};
// The backend's options from the engine's settings. Throws Error kInvalidArgument for a
// weights format other than f32 | f16 | compact (empty = f32).
OpenClOptions opencl_options(const OpenClSettings& s);

// What starting the backend cost (for `diffulex devices` and the start-up measurements).
struct StartupStats {
  int programs = 0;             // kernel files built
  int programs_from_cache = 0;  // of which loaded from the disk cache
  double build_ms = 0;          // total program build / load time
  double gemm_ms = 0;           // the start-up CLBlast product (builds CLBlast's kernels)
  double total_ms = 0;          // context + queue + programs + kernels
};

// Kernels by id; kKernelTable in opencl_backend.cpp gives each one's file and name.
enum KernelId {
  kEmbedF32,
  kEmbedF16,
  kEmbedBf16,
  kRmsnorm,
  kRope,
  kAttention,
  kAdd,
  kSwiglu,
  kCopy,
  kAddBias,
  kBf16ToF32,
  kF16ToF32,
  kF32ToF16,
  kEmbedQ8_0,
  kEmbedQ4_0,
  kMatmulQ8_0Skinny,
  kMatmulQ4_0Skinny,
  kMatmulQ8_0Tiled,
  kMatmulQ4_0Tiled,
  kKernelCount
};

// A device buffer; tensors hold it through a shared_ptr<Storage>.
class ClStorage final : public Storage {
 public:
  ClStorage(Mem m, size_t bytes) : mem(std::move(m)), bytes(bytes) {}
  Mem mem;
  size_t bytes;
};

class OpenClBackend final : public Backend {
 public:
  // Creates the context and queue and builds every kernel file (through the program cache).
  // Throws BackendError when any of it fails.
  OpenClBackend(const DeviceInfo& dev, const OpenClOptions& opts);
  ~OpenClBackend() override;

  std::string name() const override;  // "opencl:N"
  const DeviceInfo& device() const { return dev_; }
  const Tunables& tunables() const { return tun_; }
  const StartupStats& startup() const { return startup_; }
  WeightFormat weight_format() const { return weights_; }
  // One line: device, platform, weight format, tunables.
  std::string description() const;

  Tensor upload_weight(const HostTensor& src, int64_t rows, int64_t cols,
                       Precision precision) override;
  Tensor upload_f32(const float* data, int64_t rows, int64_t cols) override;
  Tensor alloc(int64_t rows, int64_t cols) override;
  void write(Tensor& dst, const float* src) override;
  void read(const Tensor& src, float* dst) override;
  void copy(const Tensor& src, Tensor& dst) override;

  void embedding(const Tensor& table, std::span<const int32_t> ids, Tensor& out) override;
  void matmul(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y) override;
  void rmsnorm(const Tensor& x, const Tensor& w, float eps, int group, Tensor& y) override;
  void rope(Tensor& x, const Tensor& cos, const Tensor& sin, int n_heads, int head_dim,
            int64_t pos0) override;
  void attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& p,
                 Tensor& out) override;
  void swiglu(const Tensor& gate, const Tensor& up, Tensor& out) override;
  void add(Tensor& x, const Tensor& y) override;
  void sync() override;

 private:
  // A grow-only device buffer for per-call temporaries (ids, widened weights, f16 copies):
  // it reaches its size in the first forward and is then reused without allocation.
  struct Scratch {
    Mem mem;
    size_t bytes = 0;
  };
  cl_mem scratch(Scratch& s, size_t bytes);

  Tensor make_tensor(DType dtype, int64_t rows, int64_t cols, const void* host);
  // A plain [rows, cols] matrix (cols a multiple of 32) quantized to Q8_0 on the host, in
  // chunks of rows, and uploaded as blocks (Precision::kInt8 of f32 / f16 / bf16 weights).
  Tensor upload_as_q8_0(const HostTensor& src, int64_t rows, int64_t cols);
  void write_bytes(cl_mem mem, size_t offset, size_t bytes, const void* host);
  cl_kernel kernel(KernelId id) const { return kernels_[id].get(); }
  // Sets kernel arguments in order: cl_mem, cl_long, cl_int, cl_float ... by value.
  template <typename... A>
  void set_args(cl_kernel k, const A&... args);
  static void set_arg(cl_kernel k, cl_uint index, size_t size, const void* value);
  // Enqueues k over `global` (dims 1..3); local may be null (driver's choice).
  void launch(cl_kernel k, int dims, const size_t* global, const size_t* local, const char* what);
  void launch_1d(KernelId id, size_t n, const char* what);  // elementwise kernels
  void widen(const Tensor& src, cl_mem dst, int64_t n);     // bf16 / f16 -> f32
  void matmul_hgemm(const Tensor& x, const Tensor& w, Tensor& y);
  // y = x @ w^T (+ bias) with w Q8_0 / Q4_0, dequantized in the kernel (kernels_cl/quant.cl).
  void matmul_quant(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y);
  // Runs a small product through CLBlast so its kernels are built at start-up, where a
  // failure still falls back to the CPU, rather than in the middle of the first forward.
  void warm_up_gemm();

  DeviceInfo dev_;
  Tunables tun_;
  WeightFormat weights_;
  bool widen_quantized_ = false;
  bool hgemm_ = false;
  Context ctx_;
  Queue queue_;
  std::vector<Program> programs_;
  std::array<Kernel, kKernelCount> kernels_;
  Scratch ids_, wide_, x16_, y16_, tmp_;
  StartupStats startup_;
  std::mutex mu_;  // one op at a time: kernels' arguments are per-object state
};

template <typename... A>
void OpenClBackend::set_args(cl_kernel k, const A&... args) {
  static_assert(((std::is_same_v<A, cl_mem> || std::is_same_v<A, cl_long> ||
                  std::is_same_v<A, cl_int> || std::is_same_v<A, cl_float>)&&...),
                "kernel arguments are cl_mem, cl_long, cl_int or cl_float");
  cl_uint i = 0;
  (set_arg(k, i++, sizeof(A), &args), ...);
}

// The storage buffer of a tensor made by an OpenClBackend.
cl_mem mem_of(const Tensor& t);
// Element offset of the tensor's first row in its buffer (plain dtypes; a quantized weight's
// kernels take its first row, t.row0, instead).
inline cl_long offset_of(const Tensor& t) {
  return t.row0 * t.cols;
}

}  // namespace dlx::ocl
