// CPU backend ops against naive double-precision references written here: matmul (f32, bf16,
// f16 weights), rmsnorm, rope, attention (masks, GQA, offsets), swiglu, add, embedding,
// copy and views. Every test runs with 1 and with 3 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <deque>
#include <random>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/formats/dtype.h"
#include "engine/util/error.h"

namespace dlx {
namespace {

constexpr double kU = 1.0 / (1 << 24);  // unit roundoff of f32

class CpuOps : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override { b_ = make_cpu_backend(GetParam()); }

  std::vector<float> random(size_t n, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = d(rng_);
    return v;
  }
  Tensor f32(const std::vector<float>& v, int64_t rows, int64_t cols) {
    EXPECT_EQ(v.size(), static_cast<size_t>(rows * cols));
    return b_->upload_f32(v.data(), rows, cols);
  }
  std::vector<float> host(const Tensor& t) {
    std::vector<float> v(t.numel());
    b_->read(t, v.data());
    return v;
  }
  // A weight of `dtype` holding `v` rounded to that dtype; `exact` gets the rounded values.
  // The backend borrows the bytes (as it borrows the mmap), so the fixture keeps them alive.
  Tensor weight(const std::vector<float>& v, int64_t rows, int64_t cols, DType dtype,
                std::vector<float>* exact = nullptr) {
    auto& bytes = buffers_.emplace_back(v.size() * dtype_size(dtype));
    std::vector<float> r(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      if (dtype == DType::kF32) {
        std::memcpy(bytes.data() + 4 * i, &v[i], 4);
        r[i] = v[i];
      } else {
        uint16_t h = dtype == DType::kBF16 ? f32_to_bf16(v[i]) : f32_to_f16(v[i]);
        std::memcpy(bytes.data() + 2 * i, &h, 2);
        r[i] = dtype == DType::kBF16 ? bf16_to_f32(h) : f16_to_f32(h);
      }
    }
    if (exact) *exact = r;
    HostTensor ht;
    ht.name = "w";
    ht.dtype = dtype;
    ht.shape = {rows, cols};
    ht.data = bytes.data();
    ht.nbytes = bytes.size();
    return b_->upload_weight(ht, rows, cols, Precision::kExact);
  }

  std::unique_ptr<Backend> b_;
  std::mt19937 rng_{1234};
  std::deque<std::vector<uint8_t>> buffers_;
};

// |got[i] - ref[i]| <= bound[i] for all i; reports the first few violations.
void expect_within(const std::vector<float>& got, const std::vector<double>& ref,
                   const std::vector<double>& bound) {
  ASSERT_EQ(got.size(), ref.size());
  int bad = 0;
  for (size_t i = 0; i < got.size() && bad < 5; ++i) {
    const double d = std::fabs(static_cast<double>(got[i]) - ref[i]);
    if (!(d <= bound[i])) {
      ADD_FAILURE() << "element " << i << ": got " << got[i] << ", want " << ref[i] << " (|d| " << d
                    << " > " << bound[i] << ")";
      ++bad;
    }
  }
}

// --- matmul ----------------------------------------------------------------------------------

// y = x w^T + b in double; bound = (K + 4) u * sum |x w| + u |b|: the worst-case error of any
// f32 summation order, so the check never flakes yet catches any wrong index or lost term.
void matmul_ref(const std::vector<float>& x, const std::vector<float>& w,
                const std::vector<float>* bias, int64_t T, int64_t K, int64_t N,
                std::vector<double>* ref, std::vector<double>* bound) {
  ref->assign(T * N, 0);
  bound->assign(T * N, 0);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t n = 0; n < N; ++n) {
      double s = 0, mag = 0;
      for (int64_t k = 0; k < K; ++k) {
        s += static_cast<double>(x[t * K + k]) * w[n * K + k];
        mag += std::fabs(static_cast<double>(x[t * K + k]) * w[n * K + k]);
      }
      double bv = bias ? (*bias)[n] : 0.0;
      (*ref)[t * N + n] = s + bv;
      (*bound)[t * N + n] = (K + 4) * kU * (mag + std::fabs(bv)) + 1e-30;
    }
  }
}

TEST_P(CpuOps, MatmulAllDtypesAndShapes) {
  for (DType dt : {DType::kF32, DType::kBF16, DType::kF16}) {
    for (int64_t K : {1, 3, 15, 16, 17, 33, 64, 100}) {
      for (int64_t N : {1, 2, 3, 4, 5, 7, 13, 16, 37, 67}) {
        for (int64_t T : {1, 2, 3, 4, 5, 9, 37}) {
          for (bool with_bias : {false, true}) {
            SCOPED_TRACE(testing::Message() << dtype_name(dt) << " T=" << T << " K=" << K
                                            << " N=" << N << (with_bias ? " +bias" : ""));
            std::vector<float> xv = random(T * K), wexact, bv = random(N);
            Tensor w = weight(random(N * K), N, K, dt, &wexact);
            Tensor x = f32(xv, T, K), bias = f32(bv, 1, N), y = b_->alloc(T, N);
            b_->matmul(x, w, with_bias ? &bias : nullptr, y);
            std::vector<double> ref, bound;
            matmul_ref(xv, wexact, with_bias ? &bv : nullptr, T, K, N, &ref, &bound);
            expect_within(host(y), ref, bound);
            buffers_.clear();
            if (HasFailure()) return;
          }
        }
      }
    }
  }
}

TEST_P(CpuOps, MatmulEveryTokenCount) {
  // T = 1..37 covers every remainder of the 4-row token tiles; N = 130 splits over threads.
  const int64_t K = 45, N = 130;
  std::vector<float> wexact;
  Tensor w = weight(random(N * K), N, K, DType::kBF16, &wexact);
  for (int64_t T = 1; T <= 37; ++T) {
    SCOPED_TRACE(T);
    std::vector<float> xv = random(T * K);
    Tensor x = f32(xv, T, K), y = b_->alloc(T, N);
    b_->matmul(x, w, nullptr, y);
    std::vector<double> ref, bound;
    matmul_ref(xv, wexact, nullptr, T, K, N, &ref, &bound);
    expect_within(host(y), ref, bound);
  }
}

TEST_P(CpuOps, MatmulOnViews) {
  // x and y are row slices of larger tensors: only the view's rows are read and written.
  const int64_t T = 5, K = 24, N = 9;
  std::vector<float> big = random(12 * K), wexact;
  Tensor w = weight(random(N * K), N, K, DType::kF32, &wexact);
  Tensor xs = f32(big, 12, K), ys = b_->alloc(10, N);
  std::vector<float> sentinel(10 * N, 7.0f);
  b_->write(ys, sentinel.data());
  Tensor x = xs.view(4, T), y = ys.view(3, T);
  b_->matmul(x, w, nullptr, y);
  std::vector<float> xv(big.begin() + 4 * K, big.begin() + (4 + T) * K);
  std::vector<double> ref, bound;
  matmul_ref(xv, wexact, nullptr, T, K, N, &ref, &bound);
  expect_within(host(y), ref, bound);
  std::vector<float> all = host(ys);
  for (int64_t r : {0, 1, 2, 8, 9}) {
    for (int64_t c = 0; c < N; ++c) EXPECT_EQ(all[r * N + c], 7.0f) << "row " << r;
  }
}

TEST_P(CpuOps, MatmulShapeMismatchIsAnError) {
  Tensor x = b_->alloc(2, 8), y = b_->alloc(2, 3);
  Tensor w = weight(random(3 * 7), 3, 7, DType::kF32);
  Error e = [&] {
    try {
      b_->matmul(x, w, nullptr, y);
    } catch (const Error& err) {
      return err;
    }
    return Error(ErrorCode::kCancelled, "none");
  }();
  EXPECT_EQ(e.code(), ErrorCode::kInternal);
}

TEST_P(CpuOps, MisalignedWeightsAreReadCorrectly) {
  // Safetensors data may start at any byte offset; the backend must not read typed values
  // through misaligned pointers (UBSan flags it; some vectorised loops fault on it).
  const int64_t N = 9, K = 21;
  for (DType dt : {DType::kF32, DType::kBF16, DType::kF16}) {
    SCOPED_TRACE(dtype_name(dt));
    std::vector<float> exact;
    weight(random(N * K), N, K, dt, &exact);  // encodes the bytes into buffers_.back()
    const std::vector<uint8_t>& src = buffers_.back();
    auto& shifted = buffers_.emplace_back(src.size() + 1);
    std::memcpy(shifted.data() + 1, src.data(), src.size());
    HostTensor ht;
    ht.name = "w";
    ht.dtype = dt;
    ht.shape = {N, K};
    ht.data = shifted.data() + 1;
    ht.nbytes = src.size();
    Tensor w = b_->upload_weight(ht, N, K, Precision::kExact);
    std::vector<float> xv = random(3 * K);
    Tensor x = f32(xv, 3, K), y = b_->alloc(3, N);
    b_->matmul(x, w, nullptr, y);
    std::vector<double> ref, bound;
    matmul_ref(xv, exact, nullptr, 3, K, N, &ref, &bound);
    expect_within(host(y), ref, bound);
    const std::vector<int32_t> ids = {0, 8};
    Tensor e = b_->alloc(2, K);
    b_->embedding(w, ids, e);
    std::vector<float> got = host(e);
    for (int64_t k = 0; k < K; ++k) {
      EXPECT_EQ(got[k], exact[k]);
      EXPECT_EQ(got[K + k], exact[8 * K + k]);
    }
  }
}

// --- rmsnorm ---------------------------------------------------------------------------------

void rmsnorm_ref(const std::vector<float>& x, const std::vector<float>& w, double eps, int group,
                 std::vector<double>* ref, std::vector<double>* bound) {
  ref->assign(x.size(), 0);
  bound->assign(x.size(), 0);
  for (size_t g = 0; g < x.size() / group; ++g) {
    double ss = 0;
    for (int i = 0; i < group; ++i) ss += static_cast<double>(x[g * group + i]) * x[g * group + i];
    const double inv = 1.0 / std::sqrt(ss / group + eps);
    for (int i = 0; i < group; ++i) {
      const double v = x[g * group + i] * inv * w[i];
      (*ref)[g * group + i] = v;
      (*bound)[g * group + i] = 8 * kU * std::fabs(v) + 1e-30;
    }
  }
}

TEST_P(CpuOps, RmsnormPerRowGroupedAndInPlace) {
  struct Case {
    int64_t rows, cols;
    int group;
    DType wdt;
  };
  for (const Case& c :
       {Case{1, 64, 64, DType::kF32}, Case{37, 48, 48, DType::kBF16}, Case{9, 64, 16, DType::kF32},
        Case{300, 24, 8, DType::kF16}, Case{5, 7, 7, DType::kF32}}) {
    SCOPED_TRACE(testing::Message() << c.rows << "x" << c.cols << " group " << c.group);
    std::vector<float> xv = random(c.rows * c.cols, -3, 3), wexact;
    Tensor w = weight(random(c.group, 0.5f, 1.5f), 1, c.group, c.wdt, &wexact);
    std::vector<double> ref, bound;
    rmsnorm_ref(xv, wexact, 1e-5, c.group, &ref, &bound);
    Tensor x = f32(xv, c.rows, c.cols), y = b_->alloc(c.rows, c.cols);
    b_->rmsnorm(x, w, 1e-5f, c.group, y);
    expect_within(host(y), ref, bound);
    b_->rmsnorm(x, w, 1e-5f, c.group, x);  // in place, as the forward does for q/k-norm
    expect_within(host(x), ref, bound);
  }
}

TEST_P(CpuOps, RmsnormOfZerosIsZeroNotNan) {
  Tensor x = f32(std::vector<float>(16, 0.0f), 2, 8), y = b_->alloc(2, 8);
  Tensor w = weight(std::vector<float>(8, 1.0f), 1, 8, DType::kF32);
  b_->rmsnorm(x, w, 1e-6f, 8, y);
  for (float v : host(y)) EXPECT_EQ(v, 0.0f);
}

// --- rope ------------------------------------------------------------------------------------

TEST_P(CpuOps, RopeRotateHalfAtSeveralPositions) {
  const int hd = 16, half = hd / 2, P = 64;
  std::vector<float> cs(P * half), sn(P * half);
  for (int p = 0; p < P; ++p) {
    for (int i = 0; i < half; ++i) {
      const double a = p / std::pow(10000.0, 2.0 * i / hd);
      cs[p * half + i] = static_cast<float>(std::cos(a));
      sn[p * half + i] = static_cast<float>(std::sin(a));
    }
  }
  Tensor cosT = f32(cs, P, half), sinT = f32(sn, P, half);
  for (int heads : {1, 3}) {
    for (int64_t pos0 : {0, 1, 5, 50}) {
      for (int64_t T : {1, 4, 14}) {
        SCOPED_TRACE(testing::Message() << heads << " heads, pos0 " << pos0 << ", T " << T);
        std::vector<float> xv = random(T * heads * hd);
        std::vector<double> ref(xv.size()), bound(xv.size());
        for (int64_t t = 0; t < T; ++t) {
          const float* c = &cs[(pos0 + t) * half];
          const float* s = &sn[(pos0 + t) * half];
          for (int h = 0; h < heads; ++h) {
            const size_t o = (t * heads + h) * hd;
            for (int i = 0; i < half; ++i) {
              const double a = xv[o + i], b = xv[o + i + half];
              ref[o + i] = a * c[i] - b * s[i];
              ref[o + i + half] = b * c[i] + a * s[i];
              bound[o + i] = 4 * kU * (std::fabs(a * c[i]) + std::fabs(b * s[i])) + 1e-30;
              bound[o + i + half] = 4 * kU * (std::fabs(b * c[i]) + std::fabs(a * s[i])) + 1e-30;
            }
          }
        }
        Tensor x = f32(xv, T, heads * hd);
        b_->rope(x, cosT, sinT, heads, hd, pos0);
        expect_within(host(x), ref, bound);
      }
    }
  }
  // Position zero is the identity.
  std::vector<float> xv = random(hd);
  Tensor x = f32(xv, 1, hd);
  b_->rope(x, cosT, sinT, 1, hd, 0);
  EXPECT_EQ(host(x), xv);
  // Rows past the table are refused, not read.
  Tensor y = f32(random(4 * hd), 4, hd);
  EXPECT_THROW(b_->rope(y, cosT, sinT, 1, hd, P - 3), Error);
}

// --- attention -------------------------------------------------------------------------------

struct AttnCase {
  int64_t Tq, key_rows;
  int heads, kv_heads, hd;
  int64_t q_pos0, n_keys;
  int block;
};

TEST_P(CpuOps, AttentionMasksGqaAndOffsets) {
  const AttnCase cases[] = {
      {5, 5, 4, 4, 8, 0, 5, 0},      // bidirectional, MHA
      {6, 6, 4, 2, 16, 0, 6, 0},     // GQA 2:1
      {7, 7, 6, 3, 20, 0, 7, 0},     // GQA, head_dim not a multiple of 16
      {9, 9, 4, 1, 8, 0, 9, 0},      // MQA
      {12, 12, 4, 2, 8, 0, 12, 4},   // block-causal, aligned blocks
      {12, 12, 2, 2, 8, 0, 12, 5},   // block-causal, a partial last block
      {4, 24, 4, 2, 8, 8, 20, 0},    // queries at 8..11, keys 0..19, more key rows than keys
      {4, 24, 4, 2, 8, 8, 20, 4},    // same, block-causal: query blocks end at key 12
      {4, 24, 4, 2, 8, 8, 20, 3},    // same, blocks not aligned to the span
      {4, 16, 4, 2, 8, 8, 10, 4},    // n_keys cuts the query's block short
      {1, 1, 2, 1, 8, 0, 1, 0},      // a single key
      {1, 40, 4, 2, 8, 39, 40, 8},   // one query at the end of a long cache
      {37, 37, 8, 2, 16, 0, 37, 0},  // many (query, head) items: work splits over threads
  };
  for (const AttnCase& c : cases) {
    SCOPED_TRACE(testing::Message()
                 << "Tq " << c.Tq << " H " << c.heads << " KV " << c.kv_heads << " hd " << c.hd
                 << " q_pos0 " << c.q_pos0 << " n_keys " << c.n_keys << " block " << c.block);
    const int64_t qc = int64_t{c.heads} * c.hd, kc = int64_t{c.kv_heads} * c.hd;
    std::vector<float> qv = random(c.Tq * qc, -2, 2), kv = random(c.key_rows * kc, -2, 2),
                       vv = random(c.key_rows * kc);
    const double scale = 1.0 / std::sqrt(static_cast<double>(c.hd));
    std::vector<double> ref(c.Tq * qc), bound(c.Tq * qc);
    for (int64_t t = 0; t < c.Tq; ++t) {
      const int64_t qpos = c.q_pos0 + t;
      for (int h = 0; h < c.heads; ++h) {
        const int kh = h / (c.heads / c.kv_heads);
        std::vector<double> s;
        for (int64_t j = 0; j < c.n_keys; ++j) {
          if (c.block > 0 && j / c.block > qpos / c.block) break;  // a later block: masked
          double d = 0;
          for (int i = 0; i < c.hd; ++i)
            d += double{qv[t * qc + h * c.hd + i]} * kv[j * kc + kh * c.hd + i];
          s.push_back(d * scale);
        }
        ASSERT_FALSE(s.empty());
        double mx = s[0], sum = 0;
        for (double x : s) mx = std::max(mx, x);
        for (double& x : s) sum += (x = std::exp(x - mx));
        for (int i = 0; i < c.hd; ++i) {
          double o = 0, vmax = 0;
          for (size_t j = 0; j < s.size(); ++j) {
            o += s[j] / sum * vv[j * kc + kh * c.hd + i];
            vmax = std::max(vmax, std::fabs(double{vv[j * kc + kh * c.hd + i]}));
          }
          ref[t * qc + h * c.hd + i] = o;
          bound[t * qc + h * c.hd + i] = 1e-5 * vmax + 1e-30;
        }
      }
    }
    Tensor q = f32(qv, c.Tq, qc), k = f32(kv, c.key_rows, kc), v = f32(vv, c.key_rows, kc);
    Tensor out = b_->alloc(c.Tq, qc);
    AttentionParams p;
    p.heads = c.heads;
    p.kv_heads = c.kv_heads;
    p.head_dim = c.hd;
    p.q_pos0 = c.q_pos0;
    p.n_keys = c.n_keys;
    p.block_size = c.block;
    p.scale = static_cast<float>(scale);
    b_->attention(q, k, v, p, out);
    expect_within(host(out), ref, bound);
  }
}

TEST_P(CpuOps, AttentionSingleVisibleKeyReturnsItsValue) {
  // Softmax over one visible key is exactly 1, whatever the scores: with block size 1 and
  // q_pos0 0, query row 0 sees only key 0, so every head of row 0 returns value row 0.
  Tensor q = f32(random(3 * 32, -50, 50), 3, 32), k = f32(random(3 * 8, -50, 50), 3, 8);
  std::vector<float> vv = random(3 * 8);
  Tensor v = f32(vv, 3, 8), out = b_->alloc(3, 32);
  AttentionParams p;
  p.heads = 4;
  p.kv_heads = 1;
  p.head_dim = 8;
  p.n_keys = 3;
  p.block_size = 1;
  p.scale = 1.0f;
  b_->attention(q, k, v, p, out);
  std::vector<float> o = host(out);
  for (int h = 0; h < 4; ++h) {
    for (int i = 0; i < 8; ++i) EXPECT_EQ(o[h * 8 + i], vv[i]);
  }
}

// --- elementwise -----------------------------------------------------------------------------

TEST_P(CpuOps, SwigluSeparateAndInPlace) {
  for (int64_t n : {1, 7, 100, 10000}) {
    SCOPED_TRACE(n);
    std::vector<float> g = random(n, -20, 20), u = random(n, -3, 3);
    g[0] = n > 1 ? -100.0f : g[0];  // exp(-g) overflows to inf: must give -0, not NaN
    std::vector<double> ref(n), bound(n);
    for (int64_t i = 0; i < n; ++i) {
      ref[i] = g[i] / (1.0 + std::exp(-double{g[i]})) * u[i];
      bound[i] = 8 * kU * std::fabs(ref[i]) + 1e-30;
    }
    Tensor gt = f32(g, 1, n), ut = f32(u, 1, n), out = b_->alloc(1, n);
    b_->swiglu(gt, ut, out);
    expect_within(host(out), ref, bound);
    b_->swiglu(gt, ut, gt);  // in place, as the forward does
    expect_within(host(gt), ref, bound);
  }
}

TEST_P(CpuOps, AddIsExactFloatAddition) {
  std::vector<float> a = random(5 * 13, -100, 100), c = random(5 * 13, -1, 1);
  Tensor x = f32(a, 5, 13), y = f32(c, 5, 13);
  b_->add(x, y);
  std::vector<float> got = host(x);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(got[i], static_cast<float>(double{a[i]} + double{c[i]}));
  }
}

// --- embedding -------------------------------------------------------------------------------

TEST_P(CpuOps, EmbeddingEveryDtype) {
  const int64_t V = 37, D = 19;
  for (DType dt : {DType::kF32, DType::kBF16, DType::kF16}) {
    SCOPED_TRACE(dtype_name(dt));
    std::vector<float> exact;
    Tensor table = weight(random(V * D, -4, 4), V, D, dt, &exact);
    const std::vector<int32_t> ids = {0, 36, 5, 5, 17};
    Tensor out = b_->alloc(static_cast<int64_t>(ids.size()), D);
    b_->embedding(table, ids, out);
    std::vector<float> got = host(out);
    for (size_t t = 0; t < ids.size(); ++t) {
      for (int64_t d = 0; d < D; ++d) EXPECT_EQ(got[t * D + d], exact[ids[t] * D + d]);
    }
  }
}

TEST_P(CpuOps, EmbeddingOutOfRangeIdIsAnError) {
  Tensor table = weight(random(10 * 4), 10, 4, DType::kBF16);
  for (int32_t bad : {10, -1, 1 << 30}) {
    const std::vector<int32_t> ids = {1, bad};
    Tensor out = b_->alloc(2, 4);
    try {
      b_->embedding(table, ids, out);
      ADD_FAILURE() << "id " << bad << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_EQ(e.param(), "ids");
      EXPECT_NE(std::string(e.what()).find(std::to_string(bad)), std::string::npos) << e.what();
    }
  }
}

// --- memory: write / read / copy / views -----------------------------------------------------

TEST_P(CpuOps, CopyBetweenViews) {
  std::vector<float> a = random(10 * 6), zeros(12 * 6, 0.0f);
  Tensor src = f32(a, 10, 6), dst = f32(zeros, 12, 6);
  Tensor d = dst.view(4, 3);
  b_->copy(src.view(2, 3), d);
  std::vector<float> got = host(dst);
  for (int64_t r = 0; r < 12; ++r) {
    for (int64_t c = 0; c < 6; ++c) {
      const float want = (r >= 4 && r < 7) ? a[(r - 2) * 6 + c] : 0.0f;
      EXPECT_EQ(got[r * 6 + c], want) << r << "," << c;
    }
  }
  // A view of a view adds offsets; read of a view returns only its rows.
  Tensor vv = dst.view(3, 6).view(1, 2);
  std::vector<float> part = host(vv);
  ASSERT_EQ(part.size(), 12u);
  for (int64_t c = 0; c < 6; ++c) EXPECT_EQ(part[c], a[2 * 6 + c]);
}

TEST_P(CpuOps, CopyOverlappingRowsOfOneTensor) {
  // KV-cache style: shifting rows inside one storage must behave like memmove.
  std::vector<float> a = random(8 * 5);
  Tensor t = f32(a, 8, 5);
  Tensor dst = t.view(2, 4);
  b_->copy(t.view(0, 4), dst);
  std::vector<float> got = host(t);
  for (int64_t r = 2; r < 6; ++r) {
    for (int64_t c = 0; c < 5; ++c) EXPECT_EQ(got[r * 5 + c], a[(r - 2) * 5 + c]);
  }
}

TEST_P(CpuOps, WriteToViewTouchesOnlyItsRows) {
  std::vector<float> zeros(6 * 3, 0.0f), rows = {1, 2, 3, 4, 5, 6};
  Tensor t = f32(zeros, 6, 3);
  Tensor v = t.view(3, 2);
  b_->write(v, rows.data());
  std::vector<float> got = host(t);
  for (int64_t i = 0; i < 18; ++i) EXPECT_EQ(got[i], (i >= 9 && i < 15) ? rows[i - 9] : 0.0f);
}

INSTANTIATE_TEST_SUITE_P(Threads, CpuOps, ::testing::Values(1, 3),
                         [](const auto& info) { return std::to_string(info.param) + "threads"; });

}  // namespace
}  // namespace dlx
