// Q8_0 / Q4_0 weights on the OpenCL backend: they stay quantized in device memory (the
// buffer is exactly the blocks' size), widen only when f32 is asked for by name, and whole
// models with quantized weights give the CPU backend's exact logits. (Op by op against the CPU:
// the q8_0 / q4_0 rows of backend_ops_test.cpp.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <span>
#include <vector>

#include "engine/model/model.h"
#include "engine/model/model_config.h"
#include "engine/util/error.h"
#include "tests/engine/backend/opencl/quantized_source.h"
#include "tests/support/opencl_test_util.h"
#include "tests/support/test_util.h"

namespace dlx::test {
namespace {

#ifdef DIFFULEX_HAVE_OPENCL

// One backend per setting, shared by the tests of this file: kernels build once.
std::shared_ptr<ocl::OpenClBackend> quant_backend(bool widen_quantized) {
  static std::shared_ptr<ocl::OpenClBackend> kept, widened;
  auto& slot = widen_quantized ? widened : kept;
  if (!slot) {
    const auto devs = ocl::list_devices();
    ocl::OpenClOptions o;  // default weight format: f32 for plain weights
    o.widen_quantized = widen_quantized;
    slot = std::make_shared<ocl::OpenClBackend>(devs[ocl::default_opencl_device(devs)], o);
  }
  return slot;
}

// Bytes of the device buffer behind `t`, as the OpenCL runtime reports them.
size_t device_bytes(const Tensor& t) {
  size_t bytes = 0;
  EXPECT_EQ(clGetMemObjectInfo(ocl::mem_of(t), CL_MEM_SIZE, sizeof bytes, &bytes, nullptr),
            CL_SUCCESS);
  return bytes;
}

struct QuantizedMatrix {
  std::vector<uint8_t> blocks;
  HostTensor host;
};

// Row-major values [rows, cols] quantized by the reference quantizer, as a reader hands them over.
QuantizedMatrix quantize(DType type, const std::vector<float>& v, int64_t rows, int64_t cols) {
  QuantizedMatrix m;
  const size_t rb = dtype_row_bytes(type, cols);
  m.blocks.resize(static_cast<size_t>(rows) * rb);
  for (int64_t r = 0; r < rows; ++r)
    quantize_row(type, v.data() + r * cols, cols, m.blocks.data() + r * rb);
  m.host.name = "w";
  m.host.dtype = type;
  m.host.shape = {rows, cols};
  m.host.data = m.blocks.data();
  m.host.nbytes = m.blocks.size();
  return m;
}

std::vector<float> uniform(int64_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = u(g);
  return v;
}

QuantizedMatrix quantized_matrix(DType type, int64_t rows, int64_t cols) {
  return quantize(type, uniform(rows * cols, 5), rows, cols);
}

TEST(OpenClQuant, WeightsStayQuantizedInDeviceMemory) {
  DLX_REQUIRE_OPENCL();
  for (DType type : {DType::kQ8_0, DType::kQ4_0}) {
    SCOPED_TRACE(dtype_name(type));
    const int64_t rows = 75, cols = 160;  // 5 blocks per row
    const QuantizedMatrix m = quantized_matrix(type, rows, cols);
    const Tensor t = quant_backend(false)->upload_weight(m.host, rows, cols, Precision::kInt8);
    EXPECT_EQ(t.dtype, type);
    const size_t want = static_cast<size_t>(rows) * (cols / 32) * dtype_block_bytes(type);
    EXPECT_EQ(want, m.blocks.size());
    EXPECT_EQ(device_bytes(t), want);  // 34 (Q8_0) or 18 (Q4_0) bytes per 32 values
    // Asked for f32 by name: widened, 4 bytes a value.
    const Tensor wide = quant_backend(true)->upload_weight(m.host, rows, cols, Precision::kExact);
    EXPECT_EQ(wide.dtype, DType::kF32);
    EXPECT_EQ(device_bytes(wide), static_cast<size_t>(rows * cols) * 4);
  }
}

TEST(OpenClQuant, QuantizedVectorsAreWidenedToF32) {
  DLX_REQUIRE_OPENCL();
  const QuantizedMatrix m = quantized_matrix(DType::kQ8_0, 1, 64);
  const Tensor t = quant_backend(false)->upload_weight(m.host, 1, 64, Precision::kExact);
  EXPECT_EQ(t.dtype, DType::kF32);
  std::vector<float> got(64), want(64);
  quant_backend(false)->read(t, got.data());
  dequantize_row(DType::kQ8_0, m.blocks.data(), 64, want.data());
  EXPECT_EQ(got, want);
}

TEST(OpenClQuant, RowsOfPartialBlocksAreRejected) {
  DLX_REQUIRE_OPENCL();
  QuantizedMatrix m = quantized_matrix(DType::kQ4_0, 4, 64);
  m.host.shape = {4, 48};  // 48 values: one and a half blocks per row
  try {
    quant_backend(false)->upload_weight(m.host, 4, 48, Precision::kExact);
    FAIL() << "a Q4_0 matrix of 48 columns was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel) << e.what();
    EXPECT_NE(std::string(e.what()).find("32-value blocks"), std::string::npos) << e.what();
  }
}

// int8 products of an f32 matrix: as on the CPU backend the weight is quantized to Q8_0 at
// upload and only the blocks are kept; the product is the exact one of those blocks.
TEST(OpenClQuant, Int8PrecisionQuantizesPlainWeightsToQ8_0) {
  DLX_REQUIRE_OPENCL();
  const int64_t T = 3, K = 96, N = 21;
  const std::vector<float> w = uniform(N * K, 9), x = uniform(T * K, 10);
  HostTensor h;
  h.name = "w";
  h.dtype = DType::kF32;
  h.shape = {N, K};
  h.data = reinterpret_cast<const uint8_t*>(w.data());
  h.nbytes = w.size() * 4;
  auto cl = quant_backend(false);
  const Tensor wq = cl->upload_weight(h, N, K, Precision::kInt8);
  EXPECT_EQ(wq.dtype, DType::kQ8_0);
  EXPECT_EQ(device_bytes(wq), static_cast<size_t>(N) * dtype_row_bytes(DType::kQ8_0, K));
  // The reference: the CPU's exact product of the same Q8_0 blocks.
  const QuantizedMatrix ref_w = quantize(DType::kQ8_0, w, N, K);
  auto cpu = make_cpu_backend(1);
  std::vector<float> want(T * N), got(T * N);
  for (Backend* b : {static_cast<Backend*>(cpu.get()), static_cast<Backend*>(cl.get())}) {
    const Tensor wt = b == cl.get() ? wq : b->upload_weight(ref_w.host, N, K, Precision::kExact);
    Tensor xt = b->upload_f32(x.data(), T, K), yt = b->alloc(T, N);
    b->matmul(xt, wt, nullptr, yt);
    b->read(yt, b == cl.get() ? got.data() : want.data());
  }
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4) << i;
}

// Logits of two forwards of one session (21 tokens, then 5 more against the cache): the
// tiled and the skinny product kernels.
std::vector<float> two_forwards(const Model& m) {
  std::vector<int32_t> ids(26);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((37 * i + 11) % 500);
  Session st = m.new_session(32, 21);
  std::vector<float> out;
  int64_t pos = 0;
  for (int64_t n : {21, 5}) {
    ForwardSpan span;
    span.ids = std::span<const int32_t>(ids).subspan(pos, n);
    span.pos0 = pos;
    const float* p = m.forward(st, span);
    out.insert(out.end(), p, p + n * m.config().vocab);
    pos += n;
  }
  return out;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(double{a[i]} - b[i]));
  return d;
}

// Every fixture family with its matrices (embedding and LM head included) quantized to Q8_0 and
// to Q4_0: the OpenCL logits (weights kept quantized, default precision) against the CPU
// backend's exact products of the same quantized weights. Bound: max|d| <= 1e-4 * max|ref|
// (f32 sums in a different order through 2 layers; measured 1e-6 to 3e-6 on PoCL).
TEST(OpenClQuant, QuantizedModelsMatchTheCpuExactLogits) {
  DLX_REQUIRE_OPENCL();
  std::shared_ptr<Backend> cpu = make_cpu_backend(2);
  for (const char* fam : {"llada", "dream", "sdar", "fast_dllm_v2"}) {
    const std::vector<float> f32 = two_forwards(*Model::load(model_dir(fam), cpu));
    for (DType type : {DType::kQ8_0, DType::kQ4_0}) {
      SCOPED_TRACE(std::string(fam) + " " + dtype_name(type));
      LoadOptions exact;
      exact.precision = Precision::kExact;
      auto on_cpu =
          Model::create(load_model_config(model_dir(fam)),
                        std::make_unique<QuantizedSource>(model_dir(fam), type), cpu, exact);
      auto on_cl = Model::create(load_model_config(model_dir(fam)),
                                 std::make_unique<QuantizedSource>(model_dir(fam), type),
                                 quant_backend(false));
      EXPECT_EQ(on_cl->weight_dtype(), type);
      const std::vector<float> ref = two_forwards(*on_cpu), got = two_forwards(*on_cl);
      double max_ref = 0;
      for (float v : ref) max_ref = std::max(max_ref, std::fabs(double{v}));
      ASSERT_GT(max_ref, 0.0);
      EXPECT_LE(max_abs_diff(got, ref), 1e-4 * max_ref);
      // The weights really were quantized: the logits moved away from the f32 model's.
      EXPECT_GT(max_abs_diff(ref, f32), 1e-3 * max_ref);
    }
  }
}

#else

TEST(OpenClQuant, WeightsStayQuantizedInDeviceMemory) {
  DLX_REQUIRE_OPENCL();
}

#endif  // DIFFULEX_HAVE_OPENCL

}  // namespace
}  // namespace dlx::test
