// Every op of the OpenCL backend against the CPU backend (the reference) on random inputs of
// several shapes, as one table: adding an op or a shape is one line of kCases. Inputs and
// outputs are row views with a row offset, so element offsets are exercised too.
// Error measure: max|opencl - cpu| / max|cpu| <= the row's bound; ids must match exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <vector>

#include "engine/formats/quant.h"
#include "tests/support/opencl_test_util.h"

namespace dlx::test {
namespace {

#ifdef DIFFULEX_HAVE_OPENCL

struct Shape {
  int64_t a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, g = 0;
};

struct Result {
  std::vector<float> values;
  std::vector<int32_t> ids;
};

// Deterministic inputs: the same seed gives both backends the same numbers.
class Inputs {
 public:
  explicit Inputs(uint64_t seed) : g_(seed) {}
  std::vector<float> uniform(int64_t n, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = u(g_);
    return v;
  }
  std::vector<int32_t> ids(int64_t n, int32_t hi) {
    std::uniform_int_distribution<int32_t> u(0, hi - 1);
    std::vector<int32_t> v(static_cast<size_t>(n));
    for (auto& x : v) x = u(g_);
    return v;
  }

 private:
  std::mt19937_64 g_;
};

// Activation [rows, cols] uploaded as rows [pad, pad + rows) of a larger buffer.
Tensor put(Backend& b, const std::vector<float>& v, int64_t rows, int64_t cols, int64_t pad = 2) {
  Tensor t = b.alloc(rows + 2 * pad, cols);
  std::vector<float> full(static_cast<size_t>((rows + 2 * pad) * cols), 7.0f);
  std::copy(v.begin(), v.end(), full.begin() + pad * cols);
  b.write(t, full.data());
  return t.view(pad, rows);
}

std::vector<float> get(Backend& b, const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  b.read(t, v.data());
  return v;
}

// A weight in `dtype` as a safetensors or GGUF reader would hand it over (bytes kept in
// `store`); Q8_0 / Q4_0 rows quantized with the reference quantizer.
Tensor weight(Backend& b, std::vector<uint8_t>& store, DType dtype, const std::vector<float>& v,
              int64_t rows, int64_t cols) {
  store.resize(static_cast<size_t>(rows) * dtype_row_bytes(dtype, cols));
  for (int64_t r = 0; dtype_is_quantized(dtype) && r < rows; ++r) {
    const size_t rb = dtype_row_bytes(dtype, cols);
    quantize_row(dtype, v.data() + r * cols, cols, store.data() + r * rb);
  }
  for (size_t i = 0; !dtype_is_quantized(dtype) && i < v.size(); ++i) {
    if (dtype == DType::kF32) {
      std::memcpy(store.data() + 4 * i, &v[i], 4);
    } else {
      const uint16_t h = dtype == DType::kBF16 ? f32_to_bf16(v[i]) : f32_to_f16(v[i]);
      std::memcpy(store.data() + 2 * i, &h, 2);
    }
  }
  HostTensor h;
  h.name = "w";
  h.dtype = dtype;
  h.shape = rows == 1 ? std::vector<int64_t>{cols} : std::vector<int64_t>{rows, cols};
  h.data = store.data();
  h.nbytes = store.size();
  return b.upload_weight(h, rows, cols, Precision::kExact);
}

using OpFn = Result (*)(Backend&, const Shape&, DType, Inputs&);

// --- one runner per op; Shape fields are named in each ---

// a=T b=K c=N d=bias e=weight row offset (the weight is a view of rows [e, e + N))
Result op_matmul(Backend& b, const Shape& s, DType dt, Inputs& in) {
  std::vector<uint8_t> ws;
  Tensor x = put(b, in.uniform(s.a * s.b), s.a, s.b);
  Tensor w = weight(b, ws, dt, in.uniform((s.c + s.e) * s.b), s.c + s.e, s.b).view(s.e, s.c);
  Tensor bias = b.upload_f32(in.uniform(s.c).data(), 1, s.c);
  Tensor y = put(b, std::vector<float>(s.a * s.c), s.a, s.c, 1);
  b.matmul(x, w, s.d ? &bias : nullptr, y);
  return {get(b, y), {}};
}

// a=T b=V c=D d=table row offset (the table is a view of rows [d, d + V))
Result op_embedding(Backend& b, const Shape& s, DType dt, Inputs& in) {
  std::vector<uint8_t> ws;
  Tensor table = weight(b, ws, dt, in.uniform((s.b + s.d) * s.c), s.b + s.d, s.c).view(s.d, s.b);
  const auto ids = in.ids(s.a, static_cast<int32_t>(s.b));
  Tensor out = put(b, std::vector<float>(s.a * s.c), s.a, s.c, 3);
  b.embedding(table, ids, out);
  return {get(b, out), {}};
}

Result op_rmsnorm(Backend& b, const Shape& s, DType dt,
                  Inputs& in) {  // a=rows b=cols c=group d=in place
  std::vector<uint8_t> ws;
  Tensor x = put(b, in.uniform(s.a * s.b, -3, 3), s.a, s.b);
  Tensor w = weight(b, ws, dt, in.uniform(s.c, 0.5f, 1.5f), 1, s.c);
  Tensor y = s.d ? x : put(b, std::vector<float>(s.a * s.b), s.a, s.b, 1);
  b.rmsnorm(x, w, 1e-6f, static_cast<int>(s.c), y);
  return {get(b, y), {}};
}

Result op_rope(Backend& b, const Shape& s, DType,
               Inputs& in) {  // a=T b=heads c=hd d=pos0 e=positions
  Tensor x = put(b, in.uniform(s.a * s.b * s.c), s.a, s.b * s.c);
  const auto ang = in.uniform(s.e * s.c / 2, 0.0f, 6.28f);
  std::vector<float> cs(ang.size()), sn(ang.size());
  for (size_t i = 0; i < ang.size(); ++i) {
    cs[i] = std::cos(ang[i]);
    sn[i] = std::sin(ang[i]);
  }
  Tensor c = b.upload_f32(cs.data(), s.e, s.c / 2), sv = b.upload_f32(sn.data(), s.e, s.c / 2);
  b.rope(x, c, sv, static_cast<int>(s.b), static_cast<int>(s.c), s.d);
  return {get(b, x), {}};
}

// a=Tq b=heads c=kv_heads d=hd e=q_pos0 f=n_keys g=block_size
Result op_attention(Backend& b, const Shape& s, DType, Inputs& in) {
  AttentionParams p;
  p.heads = static_cast<int>(s.b);
  p.kv_heads = static_cast<int>(s.c);
  p.head_dim = static_cast<int>(s.d);
  p.q_pos0 = s.e;
  p.n_keys = s.f;
  p.block_size = static_cast<int>(s.g);
  p.scale = 1.0f / std::sqrt(static_cast<float>(s.d));
  const int64_t kv_rows = s.f + 3;  // the cache may hold more rows than n_keys
  Tensor q = put(b, in.uniform(s.a * s.b * s.d, -2, 2), s.a, s.b * s.d);
  Tensor k = put(b, in.uniform(kv_rows * s.c * s.d, -2, 2), kv_rows, s.c * s.d, 0);
  Tensor v = put(b, in.uniform(kv_rows * s.c * s.d), kv_rows, s.c * s.d, 0);
  Tensor out = put(b, std::vector<float>(s.a * s.b * s.d), s.a, s.b * s.d, 1);
  b.attention(q, k, v, p, out);
  return {get(b, out), {}};
}

Result op_swiglu(Backend& b, const Shape& s, DType, Inputs& in) {  // a=rows b=cols c=in place
  Tensor g = put(b, in.uniform(s.a * s.b, -6, 6), s.a, s.b);
  Tensor u = put(b, in.uniform(s.a * s.b), s.a, s.b, 1);
  Tensor out = s.c ? g : put(b, std::vector<float>(s.a * s.b), s.a, s.b, 3);
  b.swiglu(g, u, out);
  return {get(b, out), {}};
}

Result op_add(Backend& b, const Shape& s, DType, Inputs& in) {  // a=rows b=cols
  Tensor x = put(b, in.uniform(s.a * s.b), s.a, s.b);
  Tensor y = put(b, in.uniform(s.a * s.b), s.a, s.b, 1);
  b.add(x, y);
  return {get(b, x), {}};
}

// a=rows b=cols c=dst row offset inside the same buffer as src (0: separate buffers)
Result op_copy(Backend& b, const Shape& s, DType, Inputs& in) {
  Tensor big = b.alloc(3 * s.a, s.b);
  b.write(big, in.uniform(3 * s.a * s.b).data());
  Tensor src = big.view(s.a, s.a);
  Tensor dst = s.c ? big.view(s.a + s.c, s.a) : put(b, std::vector<float>(s.a * s.b), s.a, s.b);
  b.copy(src, dst);
  return {get(b, big), {}};
}

// kF32Named: DIFFULEX_OPENCL_WEIGHTS=f32 asked for by name, which widens Q8_0 / Q4_0 too.
enum class Variant { kDefault, kCompact, kF16, kF32Named };

struct OpCase {
  const char* name;
  OpFn fn;
  Shape shape;
  DType dtype;
  double tol;  // max|d| / max|ref|
  Variant variant = Variant::kDefault;
};

void PrintTo(const OpCase& c, std::ostream* os) {
  *os << c.name;
}

// The table. Shapes cover: odd sizes, tails of work-groups, several key tiles, GQA, both
// masks, row offsets, in-place use.
const OpCase kCases[] = {
    {"matmul f32", op_matmul, {16, 64, 96, 0}, DType::kF32, 1e-5},
    {"matmul f32 bias odd", op_matmul, {7, 33, 50, 1}, DType::kF32, 1e-5},
    {"matmul f32 T=1", op_matmul, {1, 256, 300, 1}, DType::kF32, 1e-5},
    {"matmul bf16 (widened at upload)", op_matmul, {12, 128, 72, 1}, DType::kBF16, 1e-5},
    {"matmul f16 (widened at upload)", op_matmul, {5, 64, 40, 0}, DType::kF16, 1e-5},
    {"matmul bf16 compact", op_matmul, {12, 128, 72, 1}, DType::kBF16, 1e-5, Variant::kCompact},
    {"matmul f16 compact", op_matmul, {9, 96, 33, 0}, DType::kF16, 1e-5, Variant::kCompact},
    {"matmul bf16 HGEMM", op_matmul, {16, 128, 64, 1}, DType::kBF16, 5e-3, Variant::kF16},
    // Q8_0 / Q4_0 weights stay quantized (every variant but f32 named) and are dequantized
    // in the kernels: T = 1 and 7 take the skinny kernel, 33 the tiles (with a 1-row tail).
    {"matmul q8_0 T=1", op_matmul, {1, 256, 301, 1}, DType::kQ8_0, 1e-5},
    {"matmul q8_0 T=7 view", op_matmul, {7, 96, 50, 0, 3}, DType::kQ8_0, 1e-5},
    {"matmul q8_0 T=33", op_matmul, {33, 160, 67, 1}, DType::kQ8_0, 1e-5},
    {"matmul q8_0 T=33 N=64", op_matmul, {33, 64, 64, 0}, DType::kQ8_0, 1e-5},
    {"matmul q4_0 T=1", op_matmul, {1, 128, 64, 0}, DType::kQ4_0, 1e-5},
    {"matmul q4_0 T=7", op_matmul, {7, 224, 33, 1}, DType::kQ4_0, 1e-5},
    {"matmul q4_0 T=33 view", op_matmul, {33, 96, 71, 1, 2}, DType::kQ4_0, 1e-5},
    {"matmul q4_0 T=40 K=32", op_matmul, {40, 32, 96, 0}, DType::kQ4_0, 1e-5},
    {"matmul q8_0 compact", op_matmul, {9, 128, 40, 1}, DType::kQ8_0, 1e-5, Variant::kCompact},
    {"matmul q4_0 f16 format", op_matmul, {5, 64, 24, 1}, DType::kQ4_0, 1e-5, Variant::kF16},
    {"matmul q4_0 widened", op_matmul, {12, 96, 40, 1}, DType::kQ4_0, 1e-5, Variant::kF32Named},
    {"embedding q8_0", op_embedding, {9, 50, 64, 2}, DType::kQ8_0, 0},
    {"embedding q4_0", op_embedding, {7, 31, 96}, DType::kQ4_0, 0},
    {"embedding q4_0 widened", op_embedding, {4, 20, 32}, DType::kQ4_0, 0, Variant::kF32Named},
    {"embedding f32", op_embedding, {9, 50, 64}, DType::kF32, 0},
    {"embedding bf16 compact", op_embedding, {9, 50, 70}, DType::kBF16, 0, Variant::kCompact},
    {"embedding f16 compact", op_embedding, {4, 31, 64}, DType::kF16, 0, Variant::kCompact},
    {"rmsnorm rows", op_rmsnorm, {5, 96, 96, 0}, DType::kF32, 1e-5},
    {"rmsnorm bf16 weight wide", op_rmsnorm, {3, 1000, 1000, 0}, DType::kBF16, 1e-5},
    {"rmsnorm grouped in place", op_rmsnorm, {6, 128, 32, 1}, DType::kF32, 1e-5},
    {"rope", op_rope, {7, 4, 16, 0, 16}, DType::kF32, 1e-5},
    {"rope pos0 hd64", op_rope, {5, 3, 64, 9, 20}, DType::kF32, 1e-5},
    {"attention full", op_attention, {8, 4, 4, 16, 0, 8, 0}, DType::kF32, 1e-5},
    {"attention GQA many keys", op_attention, {6, 8, 2, 32, 130, 136, 0}, DType::kF32, 1e-5},
    {"attention block-causal", op_attention, {20, 4, 2, 16, 0, 20, 8}, DType::kF32, 1e-5},
    {"attention block-causal cached", op_attention, {4, 2, 1, 64, 36, 70, 4}, DType::kF32, 1e-5},
    {"attention hd128 tail tile", op_attention, {3, 2, 2, 128, 97, 100, 0}, DType::kF32, 1e-5},
    {"swiglu", op_swiglu, {5, 300, 0}, DType::kF32, 1e-5},
    {"swiglu in place", op_swiglu, {3, 64, 1}, DType::kF32, 1e-5},
    {"add", op_add, {4, 130}, DType::kF32, 1e-6},
    {"copy", op_copy, {6, 40, 0}, DType::kF32, 0},
    {"copy overlapping forward", op_copy, {6, 40, 2}, DType::kF32, 0},
};

// One backend per variant, shared by every case of the process: kernels build once.
Backend& opencl_backend(Variant v) {
  static std::map<Variant, std::unique_ptr<ocl::OpenClBackend>> backends;
  auto& slot = backends[v];
  if (!slot) {
    const auto devs = ocl::list_devices();
    ocl::OpenClOptions o;
    o.weights = v == Variant::kCompact ? ocl::WeightFormat::kCompact
                : v == Variant::kF16   ? ocl::WeightFormat::kF16
                                       : ocl::WeightFormat::kF32;
    o.widen_quantized = v == Variant::kF32Named;
    slot = std::make_unique<ocl::OpenClBackend>(devs[ocl::default_opencl_device(devs)], o);
  }
  return *slot;
}

class OpenClOps : public ::testing::TestWithParam<OpCase> {};

TEST_P(OpenClOps, MatchesCpu) {
  DLX_REQUIRE_OPENCL();
  const OpCase& c = GetParam();
  if (c.variant == Variant::kF16 && !dtype_is_quantized(c.dtype)) {
    const auto devs = ocl::list_devices();
    if (!devs[ocl::default_opencl_device(devs)].fp16) {
      GTEST_SKIP() << "the OpenCL device has no cl_khr_fp16, so HGEMM does not exist there";
    }
  }
  auto cpu = make_cpu_backend(2);
  Inputs in_cpu(1234), in_cl(1234);
  const Result ref = c.fn(*cpu, c.shape, c.dtype, in_cpu);
  const Result got = c.fn(opencl_backend(c.variant), c.shape, c.dtype, in_cl);
  ASSERT_EQ(got.values.size(), ref.values.size());
  EXPECT_EQ(got.ids, ref.ids);
  double max_d = 0, max_ref = 0;
  for (size_t i = 0; i < ref.values.size(); ++i) {
    max_d = std::max(max_d, static_cast<double>(std::fabs(got.values[i] - ref.values[i])));
    max_ref = std::max(max_ref, static_cast<double>(std::fabs(ref.values[i])));
  }
  EXPECT_GT(max_ref, 0.0) << "reference output is all zeros: the case tests nothing";
  EXPECT_LE(max_d, c.tol * max_ref) << "max|d| " << max_d << " max|ref| " << max_ref;
}

INSTANTIATE_TEST_SUITE_P(Table, OpenClOps, ::testing::ValuesIn(kCases), [](const auto& info) {
  std::string n = info.param.name;
  std::replace_if(
      n.begin(), n.end(), [](char ch) { return !std::isalnum(ch); }, '_');
  return n;
});

#else

TEST(OpenClOps, MatchesCpu) {
  DLX_REQUIRE_OPENCL();
}

#endif  // DIFFULEX_HAVE_OPENCL

}  // namespace
}  // namespace dlx::test
