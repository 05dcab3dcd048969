// The CLI edge is the one place engine settings come from the environment: engine_options()
// reads the DIFFULEX_* variables of the OpenCL backend (the engine reads none).
#include <gtest/gtest.h>
#include <stdlib.h>

#include "service/cli/model_loader.h"

namespace dlx::cli {
namespace {

// Sets (or with nullptr unsets) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    had_ = std::getenv(name) != nullptr;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (had_) {
      ::setenv(name_, old_.c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

TEST(EngineOptions, DeviceThreadsAndOpenClSettingsFromTheEnvironment) {
  ScopedEnv w("DIFFULEX_OPENCL_WEIGHTS", "f16");
  ScopedEnv k("DIFFULEX_KERNELS_DIR", "/src/kernels_cl");
  ScopedEnv c("DIFFULEX_CL_CACHE_DIR", "/var/cache/dlx");
  const EngineOptions o = engine_options("opencl:1", 3);
  EXPECT_EQ(o.device, "opencl:1");
  EXPECT_EQ(o.threads, 3);
  EXPECT_EQ(o.opencl.weights, "f16");
  EXPECT_EQ(o.opencl.kernels_dir, "/src/kernels_cl");
  EXPECT_EQ(o.opencl.cache_dir, "/var/cache/dlx");
}

TEST(EngineOptions, ProgramCacheDefaultsAndOff) {
  ScopedEnv c("DIFFULEX_CL_CACHE_DIR", nullptr);
  ScopedEnv w("DIFFULEX_OPENCL_WEIGHTS", nullptr);
  {
    ScopedEnv x("XDG_CACHE_HOME", "/xdg");
    EXPECT_EQ(engine_options("cpu", 0).opencl.cache_dir, "/xdg/diffulex/opencl");
    EXPECT_EQ(engine_options("cpu", 0).opencl.weights, "");  // f32, the default
  }
  {
    ScopedEnv x("XDG_CACHE_HOME", nullptr);
    ScopedEnv h("HOME", "/home/u");
    EXPECT_EQ(engine_options("cpu", 0).opencl.cache_dir, "/home/u/.cache/diffulex/opencl");
  }
  ScopedEnv off("DIFFULEX_CL_CACHE_DIR", "off");
  EXPECT_EQ(engine_options("cpu", 0).opencl.cache_dir, "");
}

}  // namespace
}  // namespace dlx::cli
