// The OpenCL C API at the version this backend targets (1.2: every driver we care about has it,
// including phone GPUs and PoCL), so no header warns about the calls we use.
#pragma once

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
