// Kernel source lookup: a folder first (DIFFULEX_KERNELS_DIR, development), else the embedded
// table.
#include "engine/backend/opencl/kernel_sources.h"

#include <fstream>
#include <sstream>

#include "engine/backend/backend_error.h"

namespace dlx::ocl {

std::string kernel_source(const std::string& name, const std::string& dir) {
  if (!dir.empty()) {
    const std::string path = dir + "/" + name + ".cl";
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      throw BackendError(ErrorCode::kNotFound,
                         path + ": kernel file not found (DIFFULEX_KERNELS_DIR names " + dir + ")");
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  for (const EmbeddedFile& f : embedded_kernels()) {
    if (f.path == name + ".cl") return std::string(f.data);
  }
  throw BackendError(ErrorCode::kInternal, "opencl: no embedded kernel file '" + name + ".cl'");
}

}  // namespace dlx::ocl
