// Per-device tuning data: work-group sizes of our kernels, chosen from a small table by
// vendor and device type, and handed to the kernels as -D defines (which also fix their
// reqd_work_group_size). Like CLBlast's database: data, not code paths.
#pragma once

#include <string>

#include "engine/backend/opencl/cl_device.h"

namespace dlx::ocl {

struct Tunables {
  int wg_reduce = 256;  // items per row reduction (rmsnorm); a power of two
  int wg_attn = 64;     // items per (query row, head) in attention; a power of two
  int attn_acc = 4;     // head dims each attention item owns: head_dim <= wg_attn * attn_acc
  int wg_qmv = 64;      // items per weight row in the skinny quantized product; a power of two
  std::string defines() const;  // "-DWG_REDUCE=256 -DATTN_WG=64 -DATTN_ACC=4 -DQMV_WG=64"
};

// The table row for `dev`, clamped to its maximum work-group size.
Tunables tunables_for(const DeviceInfo& dev);

}  // namespace dlx::ocl
