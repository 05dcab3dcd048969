// Peak: this machine's own limits, measured with small built-in microkernels — fp32 FMA, bf16
// dot (AVX512_BF16) and int8 dot (AVX512_VNNI) throughput, and memory read bandwidth — so every
// benchmark figure can be stated as a fraction of what the hardware it runs on can do.
#pragma once

#include <string>
#include <vector>

namespace dlx::bench {

enum class PeakKind { kFp32Fma, kBf16Dot, kInt8Dot, kMemRead };

struct PeakResult {
  PeakKind kind;
  std::string isa;  // the instruction set the kernel used: avx512, avx2, generic ...
  int threads = 1;
  double value = 0;  // GFLOP/s (int8: GOP/s) or GB/s for kMemRead
};

const char* peak_kind_name(PeakKind k);  // "fp32_fma", "bf16_dot", "int8_dot", "mem_read"
const char* peak_unit(PeakKind k);       // "GFLOP/s", "GOP/s", "GB/s"

// Whether this CPU has a kernel for `kind` (bf16 / int8 need AVX512_BF16 / AVX512_VNNI).
bool peak_supported(PeakKind kind);

// Runs one microkernel on `threads` threads at once (one per core: this spawns its own threads
// for about `seconds` in all) and returns the best of several runs. Rates use each thread's CPU
// time, so a busy machine still shows what its cores can do while they run this process.
PeakResult measure_peak(PeakKind kind, int threads, double seconds = 0.25);

// Every supported kind for 1 thread and for `threads` threads (when > 1).
std::vector<PeakResult> measure_all_peaks(int threads, double seconds = 0.25);

}  // namespace dlx::bench
