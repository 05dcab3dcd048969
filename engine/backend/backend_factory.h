// Backend selection for `--device auto|cpu|opencl[:N]`, with a fallback to the CPU backend
// whenever the OpenCL one cannot start, and the device listing behind `diffulex devices`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/backend/backend_error.h"

namespace dlx {

// Settings of the OpenCL backend (README "OpenCL backend"). The engine reads no environment:
// the CLI edge fills these from DIFFULEX_OPENCL_WEIGHTS, DIFFULEX_KERNELS_DIR and
// DIFFULEX_CL_CACHE_DIR.
struct OpenClSettings {
  std::string weights;      // how weights live on the device: f32 (empty) | f16 | compact
  std::string kernels_dir;  // read kernels_cl/*.cl from this folder instead of the embedded copies
  std::string cache_dir;    // folder of the compiled-program cache; empty: no cache
};

// Returns the backend `device` names:
//   cpu        the CPU backend with `threads` threads (0 = all cores);
//   auto       an OpenCL GPU if there is one, else the CPU (a CPU OpenCL device such as PoCL is
//              never chosen automatically);
//   opencl     the first OpenCL GPU, else the first OpenCL device of any type;
//   opencl:N   device N of `describe_devices()`.
// When OpenCL was asked for (or auto found a GPU) but cannot start — no platform, no such
// device, a kernel build error, out of memory, a build without OpenCL — it returns the CPU
// backend and sets *note (if given) to why; otherwise *note is cleared. Throws Error
// kInvalidArgument (param "device") only for a malformed `device` string.
std::shared_ptr<Backend> make_backend(const std::string& device, int threads,
                                      std::string* note = nullptr,
                                      const OpenClSettings& opencl = {});

// Runs `load(backend)` (e.g. Model::load); if that throws a BackendError on a device backend
// (weights do not fit, a kernel fails), retries once on the CPU backend and appends the reason
// to *note. Errors that would happen on the CPU as well are rethrown unchanged.
template <typename Load>
auto load_with_fallback(std::shared_ptr<Backend> backend, int threads, std::string* note,
                        Load&& load) -> decltype(load(backend)) {
  try {
    return load(backend);
  } catch (const BackendError& e) {
    if (backend->name() == "cpu") throw;
    if (note) *note += (note->empty() ? "" : "; ") + backend->name() + ": " + e.what();
  }
  backend.reset();  // free the device's partial upload before loading again
  return load(std::shared_ptr<Backend>(make_cpu_backend(threads)));
}

// One OpenCL device as `diffulex devices` shows it.
struct DeviceEntry {
  int index = 0;  // N of --device opencl:N
  std::string platform, name, vendor, type, driver_version, device_version;
  int compute_units = 0;
  uint64_t global_mem = 0, local_mem = 0;  // bytes
  bool fp16 = false;
};

struct DeviceReport {
  bool opencl_built = false;  // this binary has the OpenCL backend
  std::string opencl_error;   // why the device list is empty, when it is
  std::vector<DeviceEntry> devices;
  std::string auto_choice;  // what --device auto picks: "opencl:N" or "cpu"
};

DeviceReport list_backend_devices();
// Human-readable form of list_backend_devices(), one device per block, ending with the line
// "auto: <choice>".
std::string describe_devices();

}  // namespace dlx
