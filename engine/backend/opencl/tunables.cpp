// The per-device tunables table (see tunables.h).
#include "engine/backend/opencl/tunables.h"

#include <algorithm>
#include <cctype>

namespace dlx::ocl {
namespace {

struct Row {
  const char* vendor;  // case-insensitive substring of CL_DEVICE_VENDOR; "" matches any
  const char* type;    // "gpu", "cpu", ... ; "" matches any
  Tunables t;
};

// First match wins. CPU devices (PoCL) run a work-group as a loop on one core, so small groups
// keep that loop short; phone GPUs (Mali, Adreno) prefer 64..128-wide groups.
const Row kTable[] = {
    {"", "cpu", {64, 16, 16, 16}},
    {"nvidia", "gpu", {256, 64, 4, 64}},
    {"advanced micro devices", "gpu", {256, 64, 4, 64}},
    {"amd", "gpu", {256, 64, 4, 64}},
    {"intel", "gpu", {128, 32, 8, 32}},
    {"qualcomm", "gpu", {128, 64, 4, 64}},
    {"arm", "gpu", {64, 32, 8, 32}},
    {"", "", {128, 64, 4, 64}},
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int clamp_pow2(int v, size_t max_wg) {
  while (v > 1 && static_cast<size_t>(v) > max_wg) v /= 2;
  return v;
}

}  // namespace

std::string Tunables::defines() const {
  return "-DWG_REDUCE=" + std::to_string(wg_reduce) + " -DATTN_WG=" + std::to_string(wg_attn) +
         " -DATTN_ACC=" + std::to_string(attn_acc) + " -DQMV_WG=" + std::to_string(wg_qmv);
}

Tunables tunables_for(const DeviceInfo& dev) {
  const std::string vendor = lower(dev.vendor);
  Tunables t;
  for (const Row& r : kTable) {
    if ((*r.type == '\0' || dev.type == r.type) &&
        (*r.vendor == '\0' || vendor.find(r.vendor) != std::string::npos)) {
      t = r.t;
      break;
    }
  }
  const size_t max_wg = dev.max_work_group ? dev.max_work_group : 64;
  const int attn_span = t.wg_attn * t.attn_acc;  // keep the head_dim limit when shrinking
  t.wg_reduce = clamp_pow2(t.wg_reduce, max_wg);
  t.wg_attn = clamp_pow2(t.wg_attn, max_wg);
  t.wg_qmv = std::max(8, clamp_pow2(t.wg_qmv, max_wg));  // >= the 8 rows it reduces
  t.attn_acc = std::max(t.attn_acc, attn_span / t.wg_attn);
  return t;
}

}  // namespace dlx::ocl
