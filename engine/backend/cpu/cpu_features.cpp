#include "engine/backend/cpu/cpu_features.h"

#include <cstdlib>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
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
#elif defined(__aarch64__)
  f.neon = true;
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
  if (neon) return "neon";
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
    case Isa::kGeneric:
      break;
  }
  return true;
}

Isa best_isa() {
  static const Isa best = [] {
    Isa isa = isa_supported(Isa::kAvx512) ? Isa::kAvx512
              : isa_supported(Isa::kAvx2) ? Isa::kAvx2
                                          : Isa::kGeneric;
    const char* cap = std::getenv("DLX_CPU_ISA");
    const std::string c = cap ? cap : "";
    if (c == "generic") isa = Isa::kGeneric;
    if (c == "avx2" && isa == Isa::kAvx512) isa = Isa::kAvx2;
    return isa;
  }();
  return best;
}

}  // namespace dlx::cpu
