// OpenCL C sources of kernels_cl/*.cl: embedded into the binary at build time (a generated
// table), or read from a folder (DIFFULEX_KERNELS_DIR: kernel development without a rebuild).
#pragma once

#include <string>
#include <vector>

#include "engine/util/embedded_file.h"

namespace dlx::ocl {

// Every kernels_cl/*.cl file ("rmsnorm.cl", ...); defined in the generated kernels_cl_table.cpp.
const std::vector<EmbeddedFile>& embedded_kernels();

// Source of kernels_cl/<name>.cl, from `dir` when not empty, else embedded. Throws BackendError
// when it cannot be found.
std::string kernel_source(const std::string& name, const std::string& dir = {});

}  // namespace dlx::ocl
