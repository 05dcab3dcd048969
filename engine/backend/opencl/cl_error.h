// OpenCL and CLBlast status codes -> dlx::BackendError naming the failed call and the status.
#pragma once

#include <string>

#include "engine/backend/backend_error.h"
#include "engine/backend/opencl/cl_api.h"

namespace dlx::ocl {

// "CL_OUT_OF_RESOURCES" for -5; "CL_UNKNOWN_ERROR(-9999)" for codes we do not name.
std::string cl_error_name(cl_int status);
// "kInvalidLocalMemUsage" etc. for CLBlast's own status codes (which extend OpenCL's).
std::string clblast_status_name(int status);

// Throws BackendError("opencl: <call>: <name>") unless status == CL_SUCCESS. Allocation
// failures get ErrorCode::kUnsupported (the device cannot hold it), the rest kInternal.
void cl_check(cl_int status, const char* call);
void clblast_check(int status, const char* call);

}  // namespace dlx::ocl
