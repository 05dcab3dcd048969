// Shared set-up of the OpenCL backend tests: one backend per weight format per process (so
// kernels are built once), and the skip rule (only when no OpenCL platform exists at all).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "engine/backend/backend.h"

#ifdef DIFFULEX_HAVE_OPENCL
#include "engine/backend/opencl/cl_device.h"
#include "engine/backend/opencl/opencl_backend.h"
#endif

namespace dlx::test {

// Why OpenCL tests cannot run here, or "" when they can.
inline std::string opencl_unavailable() {
#ifdef DIFFULEX_HAVE_OPENCL
  std::string why;
  if (ocl::list_devices(&why).empty()) return why;
  return "";
#else
  return "this build has no OpenCL backend (OpenCL or CLBlast missing at configure time)";
#endif
}

#define DLX_REQUIRE_OPENCL()                                           \
  do {                                                                 \
    const std::string why_ = ::dlx::test::opencl_unavailable();        \
    if (!why_.empty()) GTEST_SKIP() << "no OpenCL platform: " << why_; \
  } while (0)

}  // namespace dlx::test
