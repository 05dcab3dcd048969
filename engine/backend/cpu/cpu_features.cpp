#include "engine/backend/cpu/cpu_features.h"

#include <cstdlib>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
// The bits of <asm/hwcap.h> (Linux 5.10+ for I8MM / BF16), spelled out for older headers.
constexpr unsigned long kHwcapAsimd = 1ul << 1, kHwcapAsimdHp = 1ul << 10,
                        kHwcapAsimdDp = 1ul << 20;
constexpr unsigned long kHwcap2I8mm = 1ul << 13, kHwcap2Bf16 = 1ul << 14;
#endif

namespace dlx::cpu {
namespace {

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) && defined(__GNUC__)
  // __builtin_cpu_supports also checks that the OS saves the wider registers (XCR0).
  __builtin_cpu_init();
  f.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  // GCC 12's __builtin_cpu_supports has no "f16c": CPUID leaf 1, ECX bit 29 (AVX state is
  // already known to be enabled when avx2 is reported).
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  f.f16c = f.avx2_fma && __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29)) != 0;
  f.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  f.avx512_bf16 = f.avx512 && __builtin_cpu_supports("avx512bf16");
  f.avx512_vnni = f.avx512 && __builtin_cpu_supports("avx512vnni");
#elif defined(__aarch64__) && defined(__linux__)
  // The kernel reports what the core and the OS support (SVE-era cores included).
  const unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
  f.neon = (hw & kHwcapAsimd) != 0;
  f.neon_fp16 = f.neon && (hw & kHwcapAsimdHp) != 0;
  f.neon_dotprod = f.neon && (hw & kHwcapAsimdDp) != 0;
  f.neon_i8mm = f.neon && (hw2 & kHwcap2I8mm) != 0;
  f.neon_bf16 = f.neon && (hw2 & kHwcap2Bf16) != 0;
#elif defined(__aarch64__)
  f.neon = true;  // mandatory in ARMv8-A; extensions unknown without Linux's auxv
#endif
  return f;
}

}  // namespace

std::string CpuFeatures::describe() const {
  if (avx512) {
    std::string s = "avx512";
    if (avx512_bf16) s += "+bf16";
    if (avx512_vnni) s += "+vnni";
    return s;
  }
  if (avx2_fma) return "avx2";
  if (neon) {
    std::string s = "neon";
    if (neon_dotprod) s += "+dotprod";
    if (neon_i8mm) s += "+i8mm";
    if (neon_bf16) s += "+bf16";
    if (neon_fp16) s += "+fp16";
    return s;
  }
  return "generic";
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kNeon:
      return "neon";
    case Isa::kNeonDot:
      return "neon_dot";
    case Isa::kNeonI8mm:
      return "neon_i8mm";
    case Isa::kGeneric:
      break;
  }
  return "generic";
}

bool isa_supported(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::kAvx512:
      return f.avx512;
    case Isa::kAvx2:
      return f.avx2_fma;
    case Isa::kNeon:
      return f.neon;
    case Isa::kNeonDot:
      return f.neon && f.neon_dotprod;
    case Isa::kNeonI8mm:  // its kernel takes SDOT for the rows that do not pair up
      return f.neon && f.neon_dotprod && f.neon_i8mm;
    case Isa::kGeneric:
      break;
  }
  return true;
}

Isa best_isa() {
  static const Isa best = [] {
    // Each architecture's levels, lowest first after generic.
    const Isa order[] = {Isa::kAvx512, Isa::kAvx2, Isa::kNeonI8mm, Isa::kNeonDot, Isa::kNeon};
    Isa isa = Isa::kGeneric;
    for (Isa i : order) {
      if (isa_supported(i)) {
        isa = i;
        break;
      }
    }
    const char* cap = std::getenv("DLX_CPU_ISA");
    const std::string c = cap ? cap : "";
    if (c == "generic") return Isa::kGeneric;
    // A supported level below the best (the levels of one architecture are ordered in the enum).
    for (Isa i : order) {
      if (c == isa_name(i) && isa_supported(i) && i < isa) return i;
    }
    return isa;
  }();
  return best;
}

}  // namespace dlx::cpu
