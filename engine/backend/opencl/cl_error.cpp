// Names for OpenCL and CLBlast status codes, and the one place they become exceptions.
#include "engine/backend/opencl/cl_error.h"

#include <clblast.h>

namespace dlx::ocl {

std::string cl_error_name(cl_int status) {
  switch (status) {
#define DLX_CL_CASE(x) \
  case x:              \
    return #x;
    DLX_CL_CASE(CL_SUCCESS)
    DLX_CL_CASE(CL_DEVICE_NOT_FOUND)
    DLX_CL_CASE(CL_DEVICE_NOT_AVAILABLE)
    DLX_CL_CASE(CL_COMPILER_NOT_AVAILABLE)
    DLX_CL_CASE(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    DLX_CL_CASE(CL_OUT_OF_RESOURCES)
    DLX_CL_CASE(CL_OUT_OF_HOST_MEMORY)
    DLX_CL_CASE(CL_PROFILING_INFO_NOT_AVAILABLE)
    DLX_CL_CASE(CL_MEM_COPY_OVERLAP)
    DLX_CL_CASE(CL_IMAGE_FORMAT_MISMATCH)
    DLX_CL_CASE(CL_IMAGE_FORMAT_NOT_SUPPORTED)
    DLX_CL_CASE(CL_BUILD_PROGRAM_FAILURE)
    DLX_CL_CASE(CL_MAP_FAILURE)
    DLX_CL_CASE(CL_MISALIGNED_SUB_BUFFER_OFFSET)
    DLX_CL_CASE(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    DLX_CL_CASE(CL_COMPILE_PROGRAM_FAILURE)
    DLX_CL_CASE(CL_LINKER_NOT_AVAILABLE)
    DLX_CL_CASE(CL_LINK_PROGRAM_FAILURE)
    DLX_CL_CASE(CL_DEVICE_PARTITION_FAILED)
    DLX_CL_CASE(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
    DLX_CL_CASE(CL_INVALID_VALUE)
    DLX_CL_CASE(CL_INVALID_DEVICE_TYPE)
    DLX_CL_CASE(CL_INVALID_PLATFORM)
    DLX_CL_CASE(CL_INVALID_DEVICE)
    DLX_CL_CASE(CL_INVALID_CONTEXT)
    DLX_CL_CASE(CL_INVALID_QUEUE_PROPERTIES)
    DLX_CL_CASE(CL_INVALID_COMMAND_QUEUE)
    DLX_CL_CASE(CL_INVALID_HOST_PTR)
    DLX_CL_CASE(CL_INVALID_MEM_OBJECT)
    DLX_CL_CASE(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
    DLX_CL_CASE(CL_INVALID_IMAGE_SIZE)
    DLX_CL_CASE(CL_INVALID_SAMPLER)
    DLX_CL_CASE(CL_INVALID_BINARY)
    DLX_CL_CASE(CL_INVALID_BUILD_OPTIONS)
    DLX_CL_CASE(CL_INVALID_PROGRAM)
    DLX_CL_CASE(CL_INVALID_PROGRAM_EXECUTABLE)
    DLX_CL_CASE(CL_INVALID_KERNEL_NAME)
    DLX_CL_CASE(CL_INVALID_KERNEL_DEFINITION)
    DLX_CL_CASE(CL_INVALID_KERNEL)
    DLX_CL_CASE(CL_INVALID_ARG_INDEX)
    DLX_CL_CASE(CL_INVALID_ARG_VALUE)
    DLX_CL_CASE(CL_INVALID_ARG_SIZE)
    DLX_CL_CASE(CL_INVALID_KERNEL_ARGS)
    DLX_CL_CASE(CL_INVALID_WORK_DIMENSION)
    DLX_CL_CASE(CL_INVALID_WORK_GROUP_SIZE)
    DLX_CL_CASE(CL_INVALID_WORK_ITEM_SIZE)
    DLX_CL_CASE(CL_INVALID_GLOBAL_OFFSET)
    DLX_CL_CASE(CL_INVALID_EVENT_WAIT_LIST)
    DLX_CL_CASE(CL_INVALID_EVENT)
    DLX_CL_CASE(CL_INVALID_OPERATION)
    DLX_CL_CASE(CL_INVALID_GL_OBJECT)
    DLX_CL_CASE(CL_INVALID_BUFFER_SIZE)
    DLX_CL_CASE(CL_INVALID_MIP_LEVEL)
    DLX_CL_CASE(CL_INVALID_GLOBAL_WORK_SIZE)
    DLX_CL_CASE(CL_INVALID_PROPERTY)
    DLX_CL_CASE(CL_INVALID_IMAGE_DESCRIPTOR)
    DLX_CL_CASE(CL_INVALID_COMPILER_OPTIONS)
    DLX_CL_CASE(CL_INVALID_LINKER_OPTIONS)
    DLX_CL_CASE(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef DLX_CL_CASE
    case -1001:
      return "CL_PLATFORM_NOT_FOUND_KHR";
  }
  return "CL_UNKNOWN_ERROR(" + std::to_string(status) + ")";
}

std::string clblast_status_name(int status) {
  using clblast::StatusCode;
  switch (static_cast<StatusCode>(status)) {
#define DLX_CLB_CASE(x) \
  case StatusCode::x:   \
    return "clblast::" #x;
    DLX_CLB_CASE(kNotImplemented)
    DLX_CLB_CASE(kInvalidMatrixA)
    DLX_CLB_CASE(kInvalidMatrixB)
    DLX_CLB_CASE(kInvalidMatrixC)
    DLX_CLB_CASE(kInvalidVectorX)
    DLX_CLB_CASE(kInvalidVectorY)
    DLX_CLB_CASE(kInvalidDimension)
    DLX_CLB_CASE(kInvalidLeadDimA)
    DLX_CLB_CASE(kInvalidLeadDimB)
    DLX_CLB_CASE(kInvalidLeadDimC)
    DLX_CLB_CASE(kInvalidIncrementX)
    DLX_CLB_CASE(kInvalidIncrementY)
    DLX_CLB_CASE(kInsufficientMemoryA)
    DLX_CLB_CASE(kInsufficientMemoryB)
    DLX_CLB_CASE(kInsufficientMemoryC)
    DLX_CLB_CASE(kInsufficientMemoryX)
    DLX_CLB_CASE(kInsufficientMemoryY)
    DLX_CLB_CASE(kInsufficientMemoryTemp)
    DLX_CLB_CASE(kInvalidBatchCount)
    DLX_CLB_CASE(kInvalidOverrideKernel)
    DLX_CLB_CASE(kMissingOverrideParameter)
    DLX_CLB_CASE(kInvalidLocalMemUsage)
    DLX_CLB_CASE(kNoHalfPrecision)
    DLX_CLB_CASE(kNoDoublePrecision)
    DLX_CLB_CASE(kInvalidVectorScalar)
    DLX_CLB_CASE(kInsufficientMemoryScalar)
    DLX_CLB_CASE(kDatabaseError)
    DLX_CLB_CASE(kUnknownError)
    DLX_CLB_CASE(kUnexpectedError)
#undef DLX_CLB_CASE
    default:
      break;
  }
  // CLBlast passes OpenCL's own codes through unchanged.
  return cl_error_name(status);
}

namespace {

[[noreturn]] void fail(int status, const char* call, const std::string& name) {
  const bool no_memory = status == CL_MEM_OBJECT_ALLOCATION_FAILURE ||
                         status == CL_OUT_OF_RESOURCES || status == CL_OUT_OF_HOST_MEMORY ||
                         status == static_cast<int>(clblast::StatusCode::kTempBufferAllocFailure);
  std::string msg = std::string("opencl: ") + call + ": " + name;
  if (no_memory) msg += " (the device is out of memory)";
  throw BackendError(no_memory ? ErrorCode::kUnsupported : ErrorCode::kInternal, msg);
}

}  // namespace

void cl_check(cl_int status, const char* call) {
  if (status != CL_SUCCESS) fail(status, call, cl_error_name(status));
}

void clblast_check(int status, const char* call) {
  if (status != static_cast<int>(clblast::StatusCode::kSuccess)) {
    fail(status, call, clblast_status_name(status));
  }
}

}  // namespace dlx::ocl
