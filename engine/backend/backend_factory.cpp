// make_backend / list_backend_devices: device strings -> backends, with CPU fallback.
#include "engine/backend/backend_factory.h"

#include <cstdio>
#include <cstdlib>

#include "engine/util/error.h"

#ifdef DIFFULEX_HAVE_OPENCL
#include "engine/backend/opencl/cl_device.h"
#include "engine/backend/opencl/opencl_backend.h"
#endif

namespace dlx {
namespace {

struct DeviceRequest {
  enum Kind { kAuto, kCpu, kOpenCl } kind = kAuto;
  int index = -1;  // opencl:N; -1 = the default OpenCL device
};

DeviceRequest parse_device(const std::string& s) {
  DeviceRequest r;
  if (s == "auto" || s.empty()) return r;
  if (s == "cpu") {
    r.kind = DeviceRequest::kCpu;
    return r;
  }
  if (s == "opencl") {
    r.kind = DeviceRequest::kOpenCl;
    return r;
  }
  if (s.rfind("opencl:", 0) == 0 && s.size() > 7 && s.size() <= 11 &&
      s.find_first_not_of("0123456789", 7) == std::string::npos) {
    r.kind = DeviceRequest::kOpenCl;
    r.index = std::atoi(s.c_str() + 7);
    return r;
  }
  throw Error(ErrorCode::kInvalidArgument,
              "--device: expected auto, cpu, opencl or opencl:N, got '" + s + "'", "device");
}

std::shared_ptr<Backend> cpu(int threads) {
  return make_cpu_backend(threads);
}

}  // namespace

#ifdef DIFFULEX_HAVE_OPENCL

std::shared_ptr<Backend> make_backend(const std::string& device, int threads, std::string* note,
                                      const OpenClSettings& opencl) {
  const DeviceRequest req = parse_device(device);
  if (note) note->clear();
  if (req.kind == DeviceRequest::kCpu) return cpu(threads);
  std::string why;
  const auto devices = ocl::list_devices(&why);
  int index = -1;
  if (req.kind == DeviceRequest::kAuto) {
    index = ocl::auto_device(devices);
    if (index < 0) return cpu(threads);  // no GPU: the CPU backend is the right choice
  } else if (req.index < 0) {
    index = ocl::default_opencl_device(devices);
    if (index < 0) {
      if (note) *note = "no OpenCL device: " + why;
      return cpu(threads);
    }
  } else {
    index = req.index;
    if (index >= static_cast<int>(devices.size())) {
      if (note) {
        *note = "opencl:" + std::to_string(index) + ": no such device (" +
                (devices.empty() ? why : std::to_string(devices.size()) + " OpenCL device(s)") +
                ")";
      }
      return cpu(threads);
    }
  }
  try {
    return std::make_shared<ocl::OpenClBackend>(devices[index], ocl::opencl_options(opencl));
  } catch (const std::exception& e) {
    // Start-up failures of any kind (build errors, no memory, driver bugs) must not stop the
    // program: the CPU backend computes the same results.
    if (note)
      *note = "opencl:" + std::to_string(index) + " (" + devices[index].name + "): " + e.what();
    return cpu(threads);
  }
}

DeviceReport list_backend_devices() {
  DeviceReport r;
  r.opencl_built = true;
  const auto devices = ocl::list_devices(&r.opencl_error);
  for (const auto& d : devices) {
    DeviceEntry e;
    e.index = d.index;
    e.platform = d.platform_name;
    e.name = d.name;
    e.vendor = d.vendor;
    e.type = d.type;
    e.driver_version = d.driver_version;
    e.device_version = d.device_version;
    e.compute_units = d.compute_units;
    e.global_mem = d.global_mem;
    e.local_mem = d.local_mem;
    e.fp16 = d.fp16;
    r.devices.push_back(std::move(e));
  }
  const int a = ocl::auto_device(devices);
  r.auto_choice = a >= 0 ? "opencl:" + std::to_string(a) : "cpu";
  return r;
}

#else  // built without OpenCL

std::shared_ptr<Backend> make_backend(const std::string& device, int threads, std::string* note,
                                      const OpenClSettings& /*opencl*/) {
  const DeviceRequest req = parse_device(device);
  if (note) note->clear();
  if (req.kind == DeviceRequest::kOpenCl && note) {
    *note =
        "this diffulex was built without OpenCL (OpenCL or CLBlast was not found at build time)";
  }
  return cpu(threads);
}

DeviceReport list_backend_devices() {
  DeviceReport r;
  r.opencl_error = "this diffulex was built without OpenCL";
  r.auto_choice = "cpu";
  return r;
}

#endif

std::string describe_devices() {
  const DeviceReport r = list_backend_devices();
  auto mib = [](uint64_t b) {
    char buf[32];
    if (b >= (uint64_t{1} << 30)) {
      std::snprintf(buf, sizeof buf, "%.2f GiB", b / 1073741824.0);
    } else {
      std::snprintf(buf, sizeof buf, "%.0f KiB", b / 1024.0);
    }
    return std::string(buf);
  };
  std::string s = "cpu      the CPU backend (always available)\n";
  if (r.devices.empty()) s += "OpenCL: " + r.opencl_error + "\n";
  for (const auto& d : r.devices) {
    s += "opencl:" + std::to_string(d.index) + " " + d.name + "\n";
    s += "         platform " + d.platform + ", vendor " + d.vendor + ", driver " +
         d.driver_version + "\n";
    s += "         type " + d.type + ", " + std::to_string(d.compute_units) +
         " compute units, global memory " + mib(d.global_mem) + ", local memory " +
         mib(d.local_mem) + ", fp16 " + (d.fp16 ? "yes" : "no") + "\n";
  }
  s += "auto: " + r.auto_choice;
  if (r.auto_choice == "cpu" && !r.devices.empty()) {
    s += " (no OpenCL GPU; CPU OpenCL devices are used only with --device opencl:N)";
  }
  return s + "\n";
}

}  // namespace dlx
