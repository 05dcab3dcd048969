// CpuFeatures: which SIMD instruction sets this CPU (and OS) supports, detected once at run time,
// so kernels built for several instruction sets can pick the best one (runtime dispatch).
#pragma once

#include <string>

namespace dlx::cpu {

struct CpuFeatures {
  bool avx2_fma = false;     // x86-64-v3: AVX2 + FMA
  bool f16c = false;         // vcvtph2ps (part of x86-64-v3)
  bool avx512 = false;       // x86-64-v4: AVX-512 F/BW/DQ/VL
  bool avx512_bf16 = false;  // vdpbf16ps
  bool avx512_vnni = false;  // vpdpbusd
  bool neon = false;         // AArch64 Advanced SIMD (always present there)

  // "avx512+bf16+vnni", "avx2", "neon", "generic": the best level, for reports.
  std::string describe() const;
};

const CpuFeatures& cpu_features();

// The instruction-set levels the kernels are built for.
enum class Isa { kGeneric, kAvx2, kAvx512 };
const char* isa_name(Isa isa);  // "generic", "avx2", "avx512"
bool isa_supported(Isa isa);
// The highest supported level, capped by the environment variable DLX_CPU_ISA
// (generic | avx2 | avx512; read once) to compare or test the lower kernels on a newer CPU.
Isa best_isa();

}  // namespace dlx::cpu
