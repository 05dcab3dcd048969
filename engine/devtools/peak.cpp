#include "engine/devtools/peak.h"

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <memory>
#include <thread>

#include "engine/backend/cpu/cpu_features.h"
#include "engine/backend/cpu/cpu_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
// GCC 12 warns inside its own AVX-512 headers (the "undefined" vectors of casts and
// conversions, GCC bug 105593, fixed in GCC 13); the pragma must precede the include.
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // GCC only (clang has no such warning)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#define DLX_PEAK_X86 1
#elif defined(__aarch64__) && defined(__GNUC__)
#include <arm_neon.h>
#define DLX_PEAK_NEON 1
#endif

// The vector types below never cross a library boundary.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace dlx::bench {
namespace {

// Independent accumulator chains per kernel: enough to cover FMA latency x ports on any core
// we know (e.g. 4 cycles x 2 ports), few enough to stay in registers.
constexpr int kChains = 12;

// A kernel runs `iters` iterations over its chains; it returns a value that depends on every
// chain so the compiler cannot drop the work, and reports the operations it did.
struct Kernel {
  const char* isa;
  double ops_per_iter;  // flops (or int ops / bytes) per iteration
  float (*run)(int64_t iters, const float* mem, int64_t mem_floats);
};

// --- fp32 FMA ---

float fma_generic(int64_t iters, const float*, int64_t) {
  float acc[kChains][8];
  for (int c = 0; c < kChains; ++c) {
    for (int l = 0; l < 8; ++l) acc[c][l] = 1.0f + 0.001f * static_cast<float>(c + l);
  }
  const float m = 0.999999f, a = 1e-6f;
  for (int64_t it = 0; it < iters; ++it) {
    for (int c = 0; c < kChains; ++c) {
      for (int l = 0; l < 8; ++l) acc[c][l] = acc[c][l] * m + a;
    }
  }
  float s = 0;
  for (int c = 0; c < kChains; ++c) {
    for (int l = 0; l < 8; ++l) s += acc[c][l];
  }
  return s;
}

#ifdef DLX_PEAK_X86
// Sums of the lanes via memory: GCC 12's _mm512_reduce_* warn (-Wuninitialized) inside the
// intrinsic headers, and speed does not matter here.
__attribute__((target("avx512f"))) float lanes_sum(__m512 v) {
  float out[16];
  _mm512_storeu_ps(out, v);
  float s = 0;
  for (float x : out) s += x;
  return s;
}

__attribute__((target("avx2,fma"))) float fma_avx2(int64_t iters, const float*, int64_t) {
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(1.0f + 0.001f * static_cast<float>(c));
  const __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-6f);
  for (int64_t it = 0; it < iters; ++it) {
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], m, a);
  }
  __m256 s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm256_add_ps(s, acc[c]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + out[7];
}

__attribute__((target("avx512f"))) float fma_avx512(int64_t iters, const float*, int64_t) {
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(1.0f + 0.001f * static_cast<float>(c));
  const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-6f);
  for (int64_t it = 0; it < iters; ++it) {
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], m, a);
  }
  __m512 s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm512_add_ps(s, acc[c]);
  return lanes_sum(s);
}

// --- bf16 dot: vdpbf16ps does 16 lanes x 2 products x (mul + add) = 64 flops ---
__attribute__((target("avx512f,avx512bf16"))) float bf16_avx512(int64_t iters, const float*,
                                                                int64_t) {
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(static_cast<float>(c));
  const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(2e-3f));
  const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(3e-3f), _mm512_set1_ps(1e-3f));
  for (int64_t it = 0; it < iters; ++it) {
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_dpbf16_ps(acc[c], a, b);
  }
  __m512 s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm512_add_ps(s, acc[c]);
  return lanes_sum(s);
}

// --- bf16 dot on AMX: TDPBF16PS does 16 x 16 outputs x 32 products x (mul + add) = 16384
// flops; four independent C tiles (tmm0..3) from two A and two B tiles, as the matmul does ---
struct alignas(64) AmxConfig {
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

__attribute__((target("amx-tile,amx-bf16"))) float bf16_amx(int64_t iters, const float*, int64_t) {
  AmxConfig cfg;
  for (int i = 0; i < 8; ++i) cfg.colsb[i] = 64, cfg.rows[i] = 16;
  _tile_loadconfig(&cfg);
  alignas(64) uint16_t ab[16 * 32];
  for (int i = 0; i < 16 * 32; ++i) ab[i] = 0x3a83;  // bf16 ~1e-3
  _tile_loadd(4, ab, 64);
  _tile_loadd(5, ab, 64);
  _tile_loadd(6, ab, 64);
  _tile_loadd(7, ab, 64);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t it = 0; it < iters; ++it) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  alignas(64) float c[4][256];
  _tile_stored(0, c[0], 64);
  _tile_stored(1, c[1], 64);
  _tile_stored(2, c[2], 64);
  _tile_stored(3, c[3], 64);
  _tile_release();
  return c[0][0] + c[1][17] + c[2][100] + c[3][255];
}

// --- int8 dot: vpdpbusd does 16 lanes x 4 products x (mul + add) = 128 ops ---
__attribute__((target("avx512f,avx512vnni"))) float int8_avx512(int64_t iters, const float*,
                                                                int64_t) {
  __m512i acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_epi32(c);
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
  for (int64_t it = 0; it < iters; ++it) {
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_dpbusd_epi32(acc[c], a, b);
  }
  __m512i s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm512_add_epi32(s, acc[c]);
  return lanes_sum(_mm512_cvtepi32_ps(s));
}

// --- memory read: sum a buffer far larger than the caches ---
__attribute__((target("avx512f"))) float read_avx512(int64_t passes, const float* p, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (int64_t pass = 0; pass < passes; ++pass) {
    for (int64_t i = 0; i + 64 <= n; i += 64) {
      s0 = _mm512_add_ps(s0, _mm512_loadu_ps(p + i));
      s1 = _mm512_add_ps(s1, _mm512_loadu_ps(p + i + 16));
      s2 = _mm512_add_ps(s2, _mm512_loadu_ps(p + i + 32));
      s3 = _mm512_add_ps(s3, _mm512_loadu_ps(p + i + 48));
    }
  }
  return lanes_sum(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

__attribute__((target("avx2"))) float read_avx2(int64_t passes, const float* p, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (int64_t pass = 0; pass < passes; ++pass) {
    for (int64_t i = 0; i + 32 <= n; i += 32) {
      s0 = _mm256_add_ps(s0, _mm256_loadu_ps(p + i));
      s1 = _mm256_add_ps(s1, _mm256_loadu_ps(p + i + 8));
      s2 = _mm256_add_ps(s2, _mm256_loadu_ps(p + i + 16));
      s3 = _mm256_add_ps(s3, _mm256_loadu_ps(p + i + 24));
    }
  }
  float out[8];
  _mm256_storeu_ps(out, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  return out[0] + out[5];
}
#endif

#ifdef DLX_PEAK_NEON
// --- AArch64 NEON: FMLA does 4 lanes x (mul + add) = 8 flops ---
float fma_neon(int64_t iters, const float*, int64_t) {
  float32x4_t acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = vdupq_n_f32(1.0f + 0.001f * static_cast<float>(c));
  const float32x4_t m = vdupq_n_f32(0.999999f), a = vdupq_n_f32(1e-6f);
  for (int64_t it = 0; it < iters; ++it) {
    for (int c = 0; c < kChains; ++c) acc[c] = vfmaq_f32(a, acc[c], m);
  }
  float32x4_t s = acc[0];
  for (int c = 1; c < kChains; ++c) s = vaddq_f32(s, acc[c]);
  return vaddvq_f32(s);
}

// SDOT (FEAT_DotProd) does 4 lanes x 4 products x (mul + add) = 32 ops.
#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod")
float int8_neon(int64_t iters, const float*, int64_t) {
  int32x4_t acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = vdupq_n_s32(c);
  const int8x16_t a = vdupq_n_s8(3), b = vdupq_n_s8(-2);
  for (int64_t it = 0; it < iters; ++it) {
    for (int c = 0; c < kChains; ++c) acc[c] = vdotq_s32(acc[c], a, b);
  }
  int32x4_t s = acc[0];
  for (int c = 1; c < kChains; ++c) s = vaddq_s32(s, acc[c]);
  return static_cast<float>(vaddvq_s32(s));
}
#pragma GCC pop_options

float read_neon(int64_t passes, const float* p, int64_t n) {
  float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0;
  for (int64_t pass = 0; pass < passes; ++pass) {
    for (int64_t i = 0; i + 16 <= n; i += 16) {
      s0 = vaddq_f32(s0, vld1q_f32(p + i));
      s1 = vaddq_f32(s1, vld1q_f32(p + i + 4));
      s2 = vaddq_f32(s2, vld1q_f32(p + i + 8));
      s3 = vaddq_f32(s3, vld1q_f32(p + i + 12));
    }
  }
  return vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
}
#endif

float read_generic(int64_t passes, const float* p, int64_t n) {
  float s[16] = {};
  for (int64_t pass = 0; pass < passes; ++pass) {
    for (int64_t i = 0; i + 16 <= n; i += 16) {
      for (int l = 0; l < 16; ++l) s[l] += p[i + l];
    }
  }
  float t = 0;
  for (float v : s) t += v;
  return t;
}

// The kernels of the level the CPU backend uses (DLX_CPU_ISA may cap it), so a fraction of
// peak compares like with like.
Kernel pick_kernel(PeakKind kind) {
  [[maybe_unused]] const cpu::CpuFeatures& f = cpu::cpu_features();
  [[maybe_unused]] const bool avx512 = cpu::best_isa() == cpu::Isa::kAvx512;
  [[maybe_unused]] const bool avx2 = cpu::best_isa() == cpu::Isa::kAvx2;
  // Any NEON level (they differ in the int8 matmul only; its peak needs SDOT).
  [[maybe_unused]] const bool neon = cpu::best_isa() == cpu::Isa::kNeon ||
                                     cpu::best_isa() == cpu::Isa::kNeonDot ||
                                     cpu::best_isa() == cpu::Isa::kNeonI8mm;
  switch (kind) {
    case PeakKind::kFp32Fma:
#ifdef DLX_PEAK_X86
      if (avx512) return {"avx512", kChains * 16 * 2.0, fma_avx512};
      if (avx2) return {"avx2", kChains * 8 * 2.0, fma_avx2};
#endif
#ifdef DLX_PEAK_NEON
      if (neon) return {"neon", kChains * 4 * 2.0, fma_neon};
#endif
      return {"generic", kChains * 8 * 2.0, fma_generic};
    case PeakKind::kBf16Dot:
#ifdef DLX_PEAK_X86
      // The kernel kBF16Dot matmuls use: AMX tiles where usable, else AVX512_BF16.
      if (avx512 && f.avx512_bf16 && cpu::has_amx_bf16())
        return {"amx_bf16", 4 * 16384.0, bf16_amx};
      if (avx512 && f.avx512_bf16) return {"avx512_bf16", kChains * 64.0, bf16_avx512};
#endif
      // AArch64: none, as the matmuls have no BFDOT kernel (bf16 mode multiplies in f32 there).
      return {nullptr, 0, nullptr};
    case PeakKind::kInt8Dot:
#ifdef DLX_PEAK_X86
      if (avx512 && f.avx512_vnni) return {"avx512_vnni", kChains * 128.0, int8_avx512};
#endif
#ifdef DLX_PEAK_NEON
      // SDOT: what the neon_dot kernel uses (neon_i8mm's SMMLA does twice the work per
      // instruction, its own peak is not measured).
      if (cpu::best_isa() == cpu::Isa::kNeonDot || cpu::best_isa() == cpu::Isa::kNeonI8mm) {
        return {"neon_dotprod", kChains * 32.0, int8_neon};
      }
#endif
      return {nullptr, 0, nullptr};
    case PeakKind::kMemRead:
#ifdef DLX_PEAK_X86
      if (avx512) return {"avx512", 0, read_avx512};
      if (avx2) return {"avx2", 0, read_avx2};
#endif
#ifdef DLX_PEAK_NEON
      if (neon) return {"neon", 0, read_neon};
#endif
      return {"generic", 0, read_generic};
  }
  return {nullptr, 0, nullptr};
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Runs kernel(iters) on `threads` threads released together and returns the summed rate
// sum_i(1 / cpu_seconds_i) (multiply by the work per run). Each thread's own CPU time is used,
// not wall time: on a shared machine other processes take turns on the cores, and the hardware's
// limit is what a thread achieves while it runs. Each thread reads its own slice of `mem`.
double run_threads(const Kernel& k, int threads, int64_t iters, const float* mem,
                   int64_t slice_floats) {
  std::barrier sync(threads);
  std::vector<double> secs(threads, 0.0);
  std::atomic<float> sink{0};
  auto body = [&](int t) {
    sync.arrive_and_wait();
    const double c0 = thread_cpu_seconds();
    const float r = k.run(iters, mem ? mem + t * slice_floats : nullptr, slice_floats);
    secs[t] = thread_cpu_seconds() - c0;
    float cur = sink.load();
    while (!sink.compare_exchange_weak(cur, cur + r)) {
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(body, t);
  body(0);
  for (auto& th : pool) th.join();
  double rate = 0;
  for (double s : secs) rate += 1.0 / std::max(s, 1e-9);
  return rate;
}

}  // namespace

const char* peak_kind_name(PeakKind k) {
  switch (k) {
    case PeakKind::kFp32Fma:
      return "fp32_fma";
    case PeakKind::kBf16Dot:
      return "bf16_dot";
    case PeakKind::kInt8Dot:
      return "int8_dot";
    case PeakKind::kMemRead:
      return "mem_read";
  }
  return "?";
}

const char* peak_unit(PeakKind k) {
  switch (k) {
    case PeakKind::kInt8Dot:
      return "GOP/s";
    case PeakKind::kMemRead:
      return "GB/s";
    default:
      return "GFLOP/s";
  }
}

bool peak_supported(PeakKind kind) {
  return pick_kernel(kind).run != nullptr;
}

PeakResult measure_peak(PeakKind kind, int threads, double seconds) {
  threads = std::max(1, threads);
  PeakResult r{kind, "", threads, 0};
  const Kernel k = pick_kernel(kind);
  if (!k.run) return r;
  r.isa = k.isa;

  std::unique_ptr<float[]> mem;
  int64_t slice = 0;
  if (kind == PeakKind::kMemRead) {
    // 256 MiB in all: far beyond any last-level cache, small enough for any test machine.
    slice = ((int64_t{64} << 20) / threads) & ~int64_t{63};
    mem.reset(new float[static_cast<size_t>(slice) * threads]);
    for (int64_t i = 0; i < slice * threads; ++i) mem[i] = static_cast<float>(i & 7);
  }
  const double bytes_per_pass = static_cast<double>(slice) * sizeof(float);
  const double per_iter = kind == PeakKind::kMemRead ? bytes_per_pass : k.ops_per_iter;

  // Calibrate on one short run, then take the best of several runs of `seconds` / 8 each.
  int64_t iters = kind == PeakKind::kMemRead ? 1 : 100000;
  for (;;) {
    const double s = threads / run_threads(k, threads, iters, mem.get(), slice);
    if (s > 0.01 || iters > (int64_t{1} << 40)) {
      iters = std::max<int64_t>(1, static_cast<int64_t>(iters * seconds / 8 / s));
      break;
    }
    iters *= 4;
  }
  for (int rep = 0; rep < 8; ++rep) {
    const double rate = per_iter * static_cast<double>(iters) *
                        run_threads(k, threads, iters, mem.get(), slice) / 1e9;
    r.value = std::max(r.value, rate);
  }
  return r;
}

std::vector<PeakResult> measure_all_peaks(int threads, double seconds) {
  std::vector<PeakResult> out;
  for (PeakKind k :
       {PeakKind::kFp32Fma, PeakKind::kBf16Dot, PeakKind::kInt8Dot, PeakKind::kMemRead}) {
    if (!peak_supported(k)) continue;
    out.push_back(measure_peak(k, 1, seconds));
    if (threads > 1) out.push_back(measure_peak(k, threads, seconds));
  }
  return out;
}

}  // namespace dlx::bench
