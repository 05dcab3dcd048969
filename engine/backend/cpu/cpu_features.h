// CpuFeatures: which SIMD instruction sets this CPU (and OS) supports, detected once at run time,
// so kernels built for several instruction sets can pick the best one (runtime dispatch).
#pragma once

#include <string>

namespace dlx::cpu {

struct CpuFeatures {
  bool avx2_fma = false;      // x86-64-v3: AVX2 + FMA
  bool f16c = false;          // vcvtph2ps (part of x86-64-v3)
  bool avx512 = false;        // x86-64-v4: AVX-512 F/BW/DQ/VL
  bool avx512_bf16 = false;   // vdpbf16ps
  bool avx512_vnni = false;   // vpdpbusd
  bool neon = false;          // AArch64 Advanced SIMD (HWCAP_ASIMD; always present there)
  bool neon_dotprod = false;  // SDOT / UDOT (HWCAP_ASIMDDP, Armv8.2 FEAT_DotProd)
  bool neon_i8mm = false;     // SMMLA (HWCAP2_I8MM, Armv8.6 FEAT_I8MM)
  bool neon_bf16 = false;     // BFDOT / BFMMLA (HWCAP2_BF16, FEAT_BF16)
  bool neon_fp16 = false;     // half-precision arithmetic (HWCAP_ASIMDHP, FEAT_FP16)

  // "avx512+bf16+vnni", "avx2", "neon+dotprod+i8mm+bf16+fp16", "generic": the best level and
  // its extensions, for reports.
  std::string describe() const;
};

const CpuFeatures& cpu_features();

// The instruction-set levels the kernels are built for. x86-64: generic < avx2 < avx512.
// AArch64: generic < neon (ASIMD) < neon_dot (+ SDOT) < neon_i8mm (+ SMMLA); the NEON levels
// differ only in the int8 (Q8_0 / Q4_0) matmul kernel.
enum class Isa { kGeneric, kAvx2, kAvx512, kNeon, kNeonDot, kNeonI8mm };
// "generic", "avx2", "avx512", "neon", "neon_dot", "neon_i8mm"
const char* isa_name(Isa isa);
bool isa_supported(Isa isa);
// The highest supported level, capped by the environment variable DLX_CPU_ISA (one of the
// names above, read once; a level above the best or of the other architecture is ignored) to
// compare or test the lower kernels on a newer CPU.
Isa best_isa();

}  // namespace dlx::cpu
