// Kernel source lookup: $DIFFULEX_KERNELS_DIR first (development), else the embedded table.
#include "engine/backend/opencl/kernel_sources.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "engine/backend/backend_error.h"

namespace dlx::ocl {
namespace {

const char* kernels_dir() {
  const char* d = std::getenv("DIFFULEX_KERNELS_DIR");
  return d && *d ? d : nullptr;
}

}  // namespace

std::string kernel_source(const std::string& name) {
  if (const char* dir = kernels_dir()) {
    const std::string path = std::string(dir) + "/" + name + ".cl";
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      throw BackendError(ErrorCode::kNotFound,
                         path + ": kernel file not found (DIFFULEX_KERNELS_DIR is set)");
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

std::string kernel_origin() {
  const char* dir = kernels_dir();
  return dir ? std::string(dir) : std::string("embedded");
}

}  // namespace dlx::ocl
