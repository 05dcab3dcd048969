// OpenCL device discovery: every device of every platform, flattened into one list whose
// index is the N of `--device opencl:N`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/backend/opencl/cl_api.h"

namespace dlx::ocl {

struct DeviceInfo {
  int index = 0;  // position in list_devices()
  cl_platform_id platform = nullptr;
  cl_device_id device = nullptr;
  std::string platform_name, platform_version;
  std::string name, vendor, driver_version, device_version;
  std::string type;  // "gpu", "cpu", "accelerator", "other"
  bool is_gpu = false;
  int compute_units = 0;
  uint64_t global_mem = 0;  // bytes
  uint64_t local_mem = 0;   // bytes
  uint64_t max_alloc = 0;   // bytes, largest single buffer
  size_t max_work_group = 0;
  bool fp16 = false;  // cl_khr_fp16
};

// Every device of every platform. No platform (no ICD installed, empty OCL_ICD_VENDORS) gives an
// empty list, not an error. `error` (optional) receives why the list is empty when a call failed.
std::vector<DeviceInfo> list_devices(std::string* error = nullptr);

// The device `auto` picks: the first GPU, else -1 (a CPU OpenCL device is never automatic).
int auto_device(const std::vector<DeviceInfo>& devices);
// The device plain `opencl` picks: the first GPU, else the first device of any type, else -1.
int default_opencl_device(const std::vector<DeviceInfo>& devices);

}  // namespace dlx::ocl
