// The CPU backend: reference implementation of every Backend op, multi-threaded over one pool.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/backend/cpu/cpu_kernels.h"
#include "engine/formats/quant.h"
#include "engine/util/error.h"
#include "engine/util/thread_pool.h"

namespace dlx {
namespace {

// Host memory: either owned floats or a borrowed pointer into a memory-mapped file.
class HostStorage : public Storage {
 public:
  explicit HostStorage(size_t bytes) : owned_(bytes), ptr_(owned_.data()) {}
  explicit HostStorage(const uint8_t* borrowed) : ptr_(const_cast<uint8_t*>(borrowed)) {}
  uint8_t* ptr() const { return ptr_; }

 private:
  std::vector<uint8_t> owned_;
  uint8_t* ptr_;
};

template <typename T = float>
T* ptr(const Tensor& t) {
  auto* s = static_cast<HostStorage*>(t.storage.get());
  return reinterpret_cast<T*>(s->ptr() + t.row0 * dtype_row_bytes(t.dtype, t.cols));
}

void check_shape(bool ok, const char* op) {
  if (!ok) throw Error(ErrorCode::kInternal, std::string("cpu backend: shape mismatch in ") + op);
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads) : pool_(threads) {}
  std::string name() const override { return "cpu"; }

  Tensor upload_weight(const HostTensor& src, int64_t rows, int64_t cols,
                       Precision precision) override {
    check_shape(src.numel() == rows * cols, "upload_weight");
    if (src.dtype == DType::kI32) throw Error(ErrorCode::kInvalidModel, src.name + ": int weights");
    Tensor t;
    if (precision == Precision::kInt8 && !dtype_is_quantized(src.dtype) && cols % 32 == 0) {
      // int8 products of f32 / f16 / bf16 weights: quantized to Q8_0 once, here, and kept so
      // (the mapped original is not referenced again).
      const size_t rb = dtype_row_bytes(DType::kQ8_0, cols);
      auto owned = std::make_shared<HostStorage>(rb * static_cast<size_t>(rows));
      const auto* in = static_cast<const uint8_t*>(src.data);
      const size_t in_rb = dtype_row_bytes(src.dtype, cols);
      pool_.parallel_for(rows, 64, [&](int64_t r0, int64_t r1) {
        std::vector<float> wide(static_cast<size_t>(cols));
        for (int64_t r = r0; r < r1; ++r) {
          dequantize_row(src.dtype, in + r * in_rb, cols, wide.data());
          quantize_row(DType::kQ8_0, wide.data(), cols, owned->ptr() + r * rb);
        }
      });
      t.storage = std::move(owned);
      t.dtype = DType::kQ8_0;
      t.precision = precision;
      t.rows = rows;
      t.cols = cols;
      return t;
    }
    // Quantized blocks start with an f16 scale: 2-byte alignment.
    const size_t align = dtype_is_quantized(src.dtype) ? 2 : dtype_size(src.dtype);
    if (reinterpret_cast<uintptr_t>(src.data) % align == 0) {
      t.storage = std::make_shared<HostStorage>(src.data);
    } else {
      // Safetensors does not require aligned data: a header length that is not a multiple of
      // the element size leaves the tensor misaligned in the map, and the kernels read typed
      // pointers (UB, and a fault where the vectoriser assumes element alignment). Copy it.
      auto owned = std::make_shared<HostStorage>(src.nbytes);
      std::memcpy(owned->ptr(), src.data, src.nbytes);
      t.storage = std::move(owned);
    }
    t.dtype = src.dtype;
    // What is computed: bf16 products only for bf16 weights on a CPU with a bf16 dot
    // instruction; anything else asked for bf16 gets (and reports) f32 products.
    const bool bf16_dot = src.dtype == DType::kBF16 && cpu::has_bf16_dot();
    t.precision = precision == Precision::kBF16 && !bf16_dot ? Precision::kExact : precision;
    t.rows = rows;
    t.cols = cols;
    return t;
  }

  Tensor upload_f32(const float* data, int64_t rows, int64_t cols) override {
    Tensor t = alloc(rows, cols);
    write(t, data);
    return t;
  }

  Tensor alloc(int64_t rows, int64_t cols) override {
    Tensor t;
    t.storage = std::make_shared<HostStorage>(static_cast<size_t>(rows * cols) * sizeof(float));
    t.rows = rows;
    t.cols = cols;
    return t;
  }

  void write(Tensor& dst, const float* src) override {
    std::memcpy(ptr(dst), src, dst.numel() * sizeof(float));
  }
  void read(const Tensor& src, float* dst) override {
    std::memcpy(dst, ptr(src), src.numel() * sizeof(float));
  }
  void copy(const Tensor& src, Tensor& dst) override {
    check_shape(src.numel() == dst.numel(), "copy");
    std::memmove(ptr(dst), ptr(src), src.numel() * sizeof(float));
  }

  void embedding(const Tensor& table, std::span<const int32_t> ids, Tensor& out) override {
    check_shape(out.rows == static_cast<int64_t>(ids.size()) && out.cols == table.cols,
                "embedding");
    const size_t row_bytes = dtype_row_bytes(table.dtype, table.cols);
    const auto* base = ptr<uint8_t>(table);
    for (size_t t = 0; t < ids.size(); ++t) {
      if (ids[t] < 0 || ids[t] >= table.rows) {
        throw Error(ErrorCode::kInvalidArgument,
                    "token id " + std::to_string(ids[t]) + " is outside the vocabulary of " +
                        std::to_string(table.rows),
                    "ids");
      }
      cpu::to_f32(base + ids[t] * row_bytes, table.dtype, table.cols, ptr(out) + t * out.cols);
    }
  }

  void matmul(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y) override {
    check_shape(x.cols == w.cols && y.rows == x.rows && y.cols == w.rows, "matmul");
    const float* xb = ptr(x);
    float* yb = ptr(y);
    const float* bb = bias ? ptr(*bias) : nullptr;
    const void* wb = ptr<uint8_t>(w);
    const cpu::MatmulMode mode = w.precision == Precision::kBF16   ? cpu::MatmulMode::kBF16Dot
                                 : w.precision == Precision::kInt8 ? cpu::MatmulMode::kInt8
                                                                   : cpu::MatmulMode::kF32;
    cpu::matmul(xb, x.rows, x.cols, wb, w.dtype, w.rows, bb, yb, y.cols, mode, pool_);
  }

  void rmsnorm(const Tensor& x, const Tensor& w, float eps, int group, Tensor& y) override {
    check_shape(x.numel() == y.numel() && x.cols % group == 0 && w.numel() == group, "rmsnorm");
    std::vector<float> wf(group);
    cpu::to_f32(ptr<uint8_t>(w), w.dtype, group, wf.data());
    const float* xb = ptr(x);
    float* yb = ptr(y);
    const int64_t n_groups = x.numel() / group;
    pool_.parallel_for(n_groups, 64, [&](int64_t g0, int64_t g1) {
      for (int64_t g = g0; g < g1; ++g) {
        const float* xi = xb + g * group;
        float* yi = yb + g * group;
        double ss = 0;
        for (int i = 0; i < group; ++i) ss += static_cast<double>(xi[i]) * xi[i];
        const float inv = 1.0f / std::sqrt(static_cast<float>(ss / group) + eps);
        for (int i = 0; i < group; ++i) yi[i] = (xi[i] * inv) * wf[i];
      }
    });
  }

  void rope(Tensor& x, const Tensor& cos, const Tensor& sin, int n_heads, int head_dim,
            int64_t pos0) override {
    check_shape(x.cols == int64_t{n_heads} * head_dim && cos.cols == head_dim / 2 &&
                    pos0 + x.rows <= cos.rows,
                "rope");
    const int half = head_dim / 2;
    float* xb = ptr(x);
    const float* cb = ptr(cos);
    const float* sb = ptr(sin);
    for (int64_t t = 0; t < x.rows; ++t) {
      const float* c = cb + (pos0 + t) * half;
      const float* s = sb + (pos0 + t) * half;
      for (int h = 0; h < n_heads; ++h) {
        float* v = xb + t * x.cols + h * head_dim;
        for (int i = 0; i < half; ++i) {
          const float a = v[i], b = v[i + half];
          v[i] = a * c[i] - b * s[i];
          v[i + half] = b * c[i] + a * s[i];
        }
      }
    }
  }

  void attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& p,
                 Tensor& out) override {
    const int hd = p.head_dim;
    check_shape(q.cols == int64_t{p.heads} * hd && out.rows == q.rows && out.cols == q.cols &&
                    k.cols == int64_t{p.kv_heads} * hd && v.cols == k.cols && k.rows >= p.n_keys &&
                    v.rows >= p.n_keys && p.heads % p.kv_heads == 0,
                "attention");
    cpu::attention(ptr(q), q.cols, ptr(k), ptr(v), k.cols, ptr(out), out.cols, q.rows, p, pool_);
  }

  void swiglu(const Tensor& gate, const Tensor& up, Tensor& out) override {
    check_shape(gate.numel() == up.numel() && out.numel() == up.numel(), "swiglu");
    cpu::swiglu(ptr(gate), ptr(up), ptr(out), out.numel(), pool_);
  }

  void add(Tensor& x, const Tensor& y) override {
    check_shape(x.numel() == y.numel(), "add");
    float* a = ptr(x);
    const float* b = ptr(y);
    for (int64_t i = 0; i < x.numel(); ++i) a[i] += b[i];
  }

  int host_threads() const override { return pool_.size(); }
  void host_parallel_for(int64_t n, int64_t grain,
                         const std::function<void(int64_t, int64_t)>& fn) override {
    pool_.parallel_for(n, grain, fn);
  }

 private:
  ThreadPool pool_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int threads) {
  return std::make_unique<CpuBackend>(threads);
}

}  // namespace dlx
