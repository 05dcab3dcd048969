// Builds OpenCL programs through an on-disk cache of device binaries, so each kernel file is
// compiled once per device and driver, not at every start. Cache files are keyed by a hash of
// the source, build options, platform, device name and driver version, and hold the full key
// so a hash collision or a stale file can never load the wrong binary.
#pragma once

#include <string>

#include "engine/backend/opencl/cl_device.h"
#include "engine/backend/opencl/cl_handles.h"

namespace dlx::ocl {

struct BuiltProgram {
  Program program;
  bool from_cache = false;  // loaded from a cached binary
  double ms = 0;            // wall time of create + build
};

// Builds `source` (kernels_cl/<name>.cl) with `options` for `dev`, through the cache in
// `cache_dir` (empty: no cache). Throws BackendError with the compiler log when the source does
// not build. Cache read/write failures only cost time.
BuiltProgram build_program(cl_context ctx, const DeviceInfo& dev, const std::string& name,
                           const std::string& source, const std::string& options,
                           const std::string& cache_dir);

}  // namespace dlx::ocl
