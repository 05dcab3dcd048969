// Platform and device queries (clGetPlatformIDs / clGetDeviceIDs / clGetDeviceInfo).
#include "engine/backend/opencl/cl_device.h"

#include "engine/backend/opencl/cl_error.h"

namespace dlx::ocl {
namespace {

std::string platform_str(cl_platform_id p, cl_platform_info what) {
  size_t n = 0;
  if (clGetPlatformInfo(p, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return {};
  std::string s(n, '\0');
  if (clGetPlatformInfo(p, what, n, s.data(), nullptr) != CL_SUCCESS) return {};
  s.resize(s.find('\0') == std::string::npos ? s.size() : s.find('\0'));
  return s;
}

std::string device_str(cl_device_id d, cl_device_info what) {
  size_t n = 0;
  if (clGetDeviceInfo(d, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return {};
  std::string s(n, '\0');
  if (clGetDeviceInfo(d, what, n, s.data(), nullptr) != CL_SUCCESS) return {};
  s.resize(s.find('\0') == std::string::npos ? s.size() : s.find('\0'));
  return s;
}

template <typename T>
T device_val(cl_device_id d, cl_device_info what) {
  T v{};
  if (clGetDeviceInfo(d, what, sizeof v, &v, nullptr) != CL_SUCCESS) return T{};
  return v;
}

const char* type_name(cl_device_type t) {
  if (t & CL_DEVICE_TYPE_GPU) return "gpu";
  if (t & CL_DEVICE_TYPE_CPU) return "cpu";
  if (t & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
  return "other";
}

}  // namespace

std::vector<DeviceInfo> list_devices(std::string* error) {
  std::vector<DeviceInfo> out;
  cl_uint np = 0;
  cl_int st = clGetPlatformIDs(0, nullptr, &np);
  if (st != CL_SUCCESS || np == 0) {
    if (error) {
      *error = st == CL_SUCCESS || st == -1001 ? "no OpenCL platform is installed"
                                               : "clGetPlatformIDs: " + cl_error_name(st);
    }
    return out;
  }
  std::vector<cl_platform_id> plats(np);
  if (clGetPlatformIDs(np, plats.data(), nullptr) != CL_SUCCESS) return out;
  for (cl_platform_id p : plats) {
    cl_uint nd = 0;
    if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, nullptr, &nd) != CL_SUCCESS || nd == 0) continue;
    std::vector<cl_device_id> devs(nd);
    if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, nd, devs.data(), nullptr) != CL_SUCCESS) continue;
    for (cl_device_id d : devs) {
      DeviceInfo di;
      di.index = static_cast<int>(out.size());
      di.platform = p;
      di.device = d;
      di.platform_name = platform_str(p, CL_PLATFORM_NAME);
      di.platform_version = platform_str(p, CL_PLATFORM_VERSION);
      di.name = device_str(d, CL_DEVICE_NAME);
      di.vendor = device_str(d, CL_DEVICE_VENDOR);
      di.driver_version = device_str(d, CL_DRIVER_VERSION);
      di.device_version = device_str(d, CL_DEVICE_VERSION);
      const auto type = device_val<cl_device_type>(d, CL_DEVICE_TYPE);
      di.type = type_name(type);
      di.is_gpu = (type & CL_DEVICE_TYPE_GPU) != 0;
      di.compute_units = static_cast<int>(device_val<cl_uint>(d, CL_DEVICE_MAX_COMPUTE_UNITS));
      di.global_mem = device_val<cl_ulong>(d, CL_DEVICE_GLOBAL_MEM_SIZE);
      di.local_mem = device_val<cl_ulong>(d, CL_DEVICE_LOCAL_MEM_SIZE);
      di.max_alloc = device_val<cl_ulong>(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
      di.max_work_group = device_val<size_t>(d, CL_DEVICE_MAX_WORK_GROUP_SIZE);
      const std::string ext = " " + device_str(d, CL_DEVICE_EXTENSIONS) + " ";
      di.fp16 = ext.find(" cl_khr_fp16 ") != std::string::npos;
      out.push_back(std::move(di));
    }
  }
  if (out.empty() && error) *error = "no OpenCL device was found";
  return out;
}

int auto_device(const std::vector<DeviceInfo>& devices) {
  for (const auto& d : devices) {
    if (d.is_gpu) return d.index;
  }
  return -1;
}

int default_opencl_device(const std::vector<DeviceInfo>& devices) {
  const int gpu = auto_device(devices);
  if (gpu >= 0) return gpu;
  return devices.empty() ? -1 : 0;
}

}  // namespace dlx::ocl
