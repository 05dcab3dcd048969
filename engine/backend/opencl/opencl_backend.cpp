// OpenClBackend: start-up (context, queue, programs, kernels), memory and transfers.
// The ops live in ops_*.cpp, one file per op family.
#include "engine/backend/opencl/opencl_backend.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "engine/backend/cpu/cpu_kernels.h"
#include "engine/backend/opencl/cl_error.h"
#include "engine/backend/opencl/kernel_sources.h"
#include "engine/backend/opencl/program_cache.h"
#include "engine/formats/quant.h"

namespace dlx::ocl {
namespace {

struct KernelEntry {
  KernelId id;
  const char* file;  // kernels_cl/<file>.cl
  const char* name;
};

const KernelEntry kKernelTable[] = {
    {kEmbedF32, "embedding", "embed_f32"},
    {kEmbedF16, "embedding", "embed_f16"},
    {kEmbedBf16, "embedding", "embed_bf16"},
    {kRmsnorm, "rmsnorm", "rmsnorm"},
    {kRope, "rope", "rope"},
    {kAttention, "attention", "attention"},
    {kAdd, "elementwise", "add_f32"},
    {kSwiglu, "elementwise", "swiglu_f32"},
    {kCopy, "elementwise", "copy_f32"},
    {kAddBias, "elementwise", "add_bias_f32"},
    {kBf16ToF32, "convert", "bf16_to_f32"},
    {kF16ToF32, "convert", "f16_to_f32"},
    {kF32ToF16, "convert", "f32_to_f16"},
    {kEmbedQ8_0, "quant", "embed_q8_0"},
    {kEmbedQ4_0, "quant", "embed_q4_0"},
    {kMatmulQ8_0Skinny, "quant", "matmul_q8_0_skinny"},
    {kMatmulQ4_0Skinny, "quant", "matmul_q4_0_skinny"},
    {kMatmulQ8_0Tiled, "quant", "matmul_q8_0_tiled"},
    {kMatmulQ4_0Tiled, "quant", "matmul_q4_0_tiled"},
};
static_assert(sizeof kKernelTable / sizeof kKernelTable[0] == kKernelCount);

// Values converted per host chunk at upload, so a large tensor never needs a full f32 copy.
constexpr int64_t kUploadChunk = int64_t{1} << 22;

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void check_shape(bool ok, const char* op) {
  if (!ok)
    throw Error(ErrorCode::kInternal, std::string("opencl backend: shape mismatch in ") + op);
}

// Can every value of src be stored as f16 without overflow? (bf16 -> f16 keeps every bit of
// the mantissa inside f16's range; beyond +-65504 it would become infinity.)
bool fits_f16(const HostTensor& src) {
  if (src.dtype == DType::kF16) return true;
  std::vector<float> buf(static_cast<size_t>(std::min(src.numel(), kUploadChunk)));
  for (int64_t i = 0; i < src.numel(); i += kUploadChunk) {
    const int64_t n = std::min(kUploadChunk, src.numel() - i);
    cpu::to_f32(src.data + dtype_row_bytes(src.dtype, i), src.dtype, n, buf.data());
    for (int64_t j = 0; j < n; ++j) {
      if (!(std::fabs(buf[j]) <= 65504.0f)) return false;
    }
  }
  return true;
}

}  // namespace

const char* weight_format_name(WeightFormat f) {
  switch (f) {
    case WeightFormat::kF32:
      return "f32";
    case WeightFormat::kF16:
      return "f16";
    case WeightFormat::kCompact:
      return "compact";
  }
  return "?";
}

OpenClOptions opencl_options(const OpenClSettings& settings) {
  OpenClOptions o;
  o.kernels_dir = settings.kernels_dir;
  o.cache_dir = settings.cache_dir;
  const std::string& s = settings.weights;
  if (s.empty() || s == "f32") {
    o.weights = WeightFormat::kF32;
    o.widen_quantized = s == "f32";  // asked for by name: Q8_0 / Q4_0 widened too
  } else if (s == "f16") {
    o.weights = WeightFormat::kF16;
  } else if (s == "compact") {
    o.weights = WeightFormat::kCompact;
  } else {
    throw Error(ErrorCode::kInvalidArgument,
                "DIFFULEX_OPENCL_WEIGHTS='" + s + "': expected f32, f16 or compact",
                "DIFFULEX_OPENCL_WEIGHTS");
  }
  return o;
}

cl_mem mem_of(const Tensor& t) {
  auto* s = dynamic_cast<ClStorage*>(t.storage.get());
  if (!s) throw Error(ErrorCode::kInternal, "opencl backend: tensor is not an OpenCL buffer");
  return s->mem.get();
}

OpenClBackend::OpenClBackend(const DeviceInfo& dev, const OpenClOptions& opts)
    : dev_(dev),
      tun_(tunables_for(dev)),
      weights_(opts.weights),
      widen_quantized_(opts.widen_quantized) {
  const auto t0 = std::chrono::steady_clock::now();
  // HGEMM needs half arithmetic on the device; without it f16 storage would have no use.
  if (weights_ == WeightFormat::kF16) {
    hgemm_ = dev_.fp16;
    if (!hgemm_) weights_ = WeightFormat::kF32;
  }
  cl_int err = CL_SUCCESS;
  const cl_context_properties props[] = {CL_CONTEXT_PLATFORM,
                                         reinterpret_cast<cl_context_properties>(dev_.platform), 0};
  ctx_ = Context(clCreateContext(props, 1, &dev_.device, nullptr, nullptr, &err));
  cl_check(err, "clCreateContext");
  queue_ = Queue(clCreateCommandQueue(ctx_.get(), dev_.device, 0, &err));
  cl_check(err, "clCreateCommandQueue");

  const std::string options = tun_.defines();
  std::vector<std::string> files;
  for (const KernelEntry& e : kKernelTable) {
    if (std::find(files.begin(), files.end(), e.file) == files.end()) files.push_back(e.file);
  }
  for (const std::string& f : files) {
    BuiltProgram b = build_program(ctx_.get(), dev_, f, kernel_source(f, opts.kernels_dir), options,
                                   opts.cache_dir);
    ++startup_.programs;
    startup_.programs_from_cache += b.from_cache ? 1 : 0;
    startup_.build_ms += b.ms;
    programs_.push_back(std::move(b.program));
  }
  for (const KernelEntry& e : kKernelTable) {
    const size_t pi = std::find(files.begin(), files.end(), e.file) - files.begin();
    kernels_[e.id] = Kernel(clCreateKernel(programs_[pi].get(), e.name, &err));
    cl_check(err, (std::string("clCreateKernel(") + e.name + ")").c_str());
  }
  warm_up_gemm();
  startup_.total_ms = ms_since(t0);
}

OpenClBackend::~OpenClBackend() {
  if (queue_) clFinish(queue_.get());
}

std::string OpenClBackend::name() const {
  return "opencl:" + std::to_string(dev_.index);
}

std::string OpenClBackend::description() const {
  std::string s = name() + " " + dev_.name + " (" + dev_.platform_name + ", " + dev_.type +
                  "), weights " + weight_format_name(weights_);
  if (hgemm_) s += " (HGEMM)";
  s += widen_quantized_ ? ", q8_0/q4_0 widened" : ", q8_0/q4_0 kept";
  return s + ", " + tun_.defines();
}

void OpenClBackend::set_arg(cl_kernel k, cl_uint index, size_t size, const void* value) {
  cl_check(clSetKernelArg(k, index, size, value), "clSetKernelArg");
}

void OpenClBackend::launch(cl_kernel k, int dims, const size_t* global, const size_t* local,
                           const char* what) {
  for (int d = 0; d < dims; ++d) {
    if (global[d] == 0) return;
  }
  const cl_int err = clEnqueueNDRangeKernel(queue_.get(), k, static_cast<cl_uint>(dims), nullptr,
                                            global, local, 0, nullptr, nullptr);
  cl_check(err, (std::string("clEnqueueNDRangeKernel(") + what + ")").c_str());
}

void OpenClBackend::launch_1d(KernelId id, size_t n, const char* what) {
  launch(kernel(id), 1, &n, nullptr, what);
}

cl_mem OpenClBackend::scratch(Scratch& s, size_t bytes) {
  bytes = std::max<size_t>(bytes, 4);
  if (s.bytes < bytes) {
    s.mem.reset();
    cl_int err = CL_SUCCESS;
    s.mem = Mem(clCreateBuffer(ctx_.get(), CL_MEM_READ_WRITE, bytes, nullptr, &err));
    cl_check(err, "clCreateBuffer(scratch)");
    s.bytes = bytes;
  }
  return s.mem.get();
}

void OpenClBackend::write_bytes(cl_mem mem, size_t offset, size_t bytes, const void* host) {
  if (bytes == 0) return;
  cl_check(
      clEnqueueWriteBuffer(queue_.get(), mem, CL_TRUE, offset, bytes, host, 0, nullptr, nullptr),
      "clEnqueueWriteBuffer");
}

Tensor OpenClBackend::make_tensor(DType dtype, int64_t rows, int64_t cols, const void* host) {
  const size_t bytes = static_cast<size_t>(rows) * dtype_row_bytes(dtype, cols);
  cl_int err = CL_SUCCESS;
  Mem m(clCreateBuffer(ctx_.get(), CL_MEM_READ_WRITE, std::max<size_t>(bytes, 4), nullptr, &err));
  cl_check(err, "clCreateBuffer");
  if (host) write_bytes(m.get(), 0, bytes, host);
  Tensor t;
  t.storage = std::make_shared<ClStorage>(std::move(m), bytes);
  t.dtype = dtype;
  t.rows = rows;
  t.cols = cols;
  return t;
}

Tensor OpenClBackend::upload_weight(const HostTensor& src, int64_t rows, int64_t cols,
                                    Precision precision) {
  std::lock_guard<std::mutex> lock(mu_);
  check_shape(src.numel() == rows * cols, "upload_weight");
  if (src.dtype == DType::kI32) throw Error(ErrorCode::kInvalidModel, src.name + ": int weights");
  const bool quantized = dtype_is_quantized(src.dtype);
  if (quantized && dtype_row_bytes(src.dtype, cols) == 0) {
    throw Error(ErrorCode::kInvalidModel,
                src.name + ": " + dtype_name(src.dtype) + " rows need whole 32-value blocks, not " +
                    std::to_string(cols) + " values",
                "cols");
  }
  check_shape(src.nbytes >= static_cast<size_t>(rows) * dtype_row_bytes(src.dtype, cols),
              "upload_weight");
  // Vectors (norms, biases) are always f32: the kernels read them as floats. Quantized
  // matrices keep their blocks (the kernels dequantize them) unless f32 was asked for by name;
  // int8 products of plain matrices mean Q8_0 weights, as on the CPU backend (the products
  // themselves are f32: there is no int8-activation kernel here).
  DType target = DType::kF32;
  if (rows > 1) {
    if (quantized) {
      if (!widen_quantized_) target = src.dtype;
    } else if (precision == Precision::kInt8 && cols % 32 == 0) {
      return upload_as_q8_0(src, rows, cols);
    } else if (weights_ == WeightFormat::kCompact) {
      target = src.dtype;
    } else if (weights_ == WeightFormat::kF16 && fits_f16(src)) {
      target = DType::kF16;
    }
  }
  if (target == src.dtype) return make_tensor(target, rows, cols, src.data);

  // Widened in chunks (whole 32-value blocks: the chunk is a multiple of 32, and so is a
  // quantized tensor's size), so a large tensor never needs a full f32 copy on the host.
  Tensor t = make_tensor(target, rows, cols, nullptr);
  const cl_mem m = mem_of(t);
  std::vector<float> f(static_cast<size_t>(std::min(src.numel(), kUploadChunk)));
  std::vector<uint16_t> h(target == DType::kF16 ? f.size() : 0);
  for (int64_t i = 0; i < src.numel(); i += kUploadChunk) {
    const int64_t n = std::min(kUploadChunk, src.numel() - i);
    cpu::to_f32(src.data + dtype_row_bytes(src.dtype, i), src.dtype, n, f.data());
    if (target == DType::kF16) {
      for (int64_t j = 0; j < n; ++j) h[j] = f32_to_f16(f[j]);
      write_bytes(m, i * 2, n * 2, h.data());
    } else {
      write_bytes(m, i * 4, n * 4, f.data());
    }
  }
  return t;
}

Tensor OpenClBackend::upload_as_q8_0(const HostTensor& src, int64_t rows, int64_t cols) {
  Tensor t = make_tensor(DType::kQ8_0, rows, cols, nullptr);
  const size_t in_rb = dtype_row_bytes(src.dtype, cols), rb = dtype_row_bytes(DType::kQ8_0, cols);
  const int64_t chunk_rows = std::max<int64_t>(1, kUploadChunk / cols);
  std::vector<float> f(static_cast<size_t>(cols));
  std::vector<uint8_t> q(static_cast<size_t>(std::min(rows, chunk_rows)) * rb);
  for (int64_t r0 = 0; r0 < rows; r0 += chunk_rows) {
    const int64_t n = std::min(chunk_rows, rows - r0);
    for (int64_t r = 0; r < n; ++r) {
      cpu::to_f32(src.data + (r0 + r) * in_rb, src.dtype, cols, f.data());
      quantize_row(DType::kQ8_0, f.data(), cols, q.data() + r * rb);
    }
    write_bytes(mem_of(t), r0 * rb, n * rb, q.data());
  }
  return t;
}

Tensor OpenClBackend::upload_f32(const float* data, int64_t rows, int64_t cols) {
  std::lock_guard<std::mutex> lock(mu_);
  return make_tensor(DType::kF32, rows, cols, data);
}

Tensor OpenClBackend::alloc(int64_t rows, int64_t cols) {
  std::lock_guard<std::mutex> lock(mu_);
  return make_tensor(DType::kF32, rows, cols, nullptr);
}

void OpenClBackend::write(Tensor& dst, const float* src) {
  std::lock_guard<std::mutex> lock(mu_);
  check_shape(dst.dtype == DType::kF32, "write");
  write_bytes(mem_of(dst), offset_of(dst) * 4, dst.numel() * 4, src);
}

void OpenClBackend::read(const Tensor& src, float* dst) {
  std::lock_guard<std::mutex> lock(mu_);
  check_shape(src.dtype == DType::kF32, "read");
  if (src.numel() == 0) return;
  cl_check(clEnqueueReadBuffer(queue_.get(), mem_of(src), CL_TRUE, offset_of(src) * 4,
                               src.numel() * 4, dst, 0, nullptr, nullptr),
           "clEnqueueReadBuffer");
}

void OpenClBackend::sync() {
  std::lock_guard<std::mutex> lock(mu_);
  cl_check(clFinish(queue_.get()), "clFinish");
}

}  // namespace dlx::ocl
