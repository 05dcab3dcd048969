// OpenCL start-up: the on-disk program cache, kernel sources from a folder (DIFFULEX_KERNELS_DIR),
// and make_backend's fallback to the CPU when kernels do not build or the device does not exist.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/backend/backend_factory.h"
#include "tests/support/opencl_test_util.h"

#ifdef DIFFULEX_HAVE_OPENCL
#include "engine/backend/opencl/kernel_sources.h"
#endif

namespace dlx::test {
namespace {

namespace fs = std::filesystem;

TEST(OpenClStart, UnknownDeviceFallsBackWithNote) {
  std::string note;
  auto b = make_backend("opencl:999", 1, &note);
  EXPECT_EQ(b->name(), "cpu");
#ifdef DIFFULEX_HAVE_OPENCL
  EXPECT_NE(note.find("opencl:999: no such device"), std::string::npos) << note;
#else
  EXPECT_NE(note.find("built without OpenCL"), std::string::npos) << note;
#endif
  EXPECT_THROW(make_backend("gpu", 1, &note), Error);
  EXPECT_THROW(make_backend("opencl:x", 1, &note), Error);
  EXPECT_EQ(make_backend("cpu", 1, &note)->name(), "cpu");
  EXPECT_TRUE(note.empty());
}

#ifdef DIFFULEX_HAVE_OPENCL

fs::path temp_dir(const std::string& tag) {
  fs::path p =
      fs::path(::testing::TempDir()) / ("dlx_ocl_" + tag + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

TEST(OpenClStart, ProgramCacheStoresThenLoads) {
  DLX_REQUIRE_OPENCL();
  const fs::path dir = temp_dir("cache");
  ocl::OpenClOptions cached;
  cached.cache_dir = dir.string();
  const auto devs = ocl::list_devices();
  const auto& dev = devs[ocl::default_opencl_device(devs)];
  {
    ocl::OpenClBackend first(dev, cached);
    EXPECT_GT(first.startup().programs, 0);
    EXPECT_EQ(first.startup().programs_from_cache, 0);
  }
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir)) files += e.path().extension() == ".bin";
  ocl::OpenClBackend second(dev, cached);
  EXPECT_EQ(files, static_cast<size_t>(second.startup().programs));
  EXPECT_EQ(second.startup().programs_from_cache, second.startup().programs);

  // A damaged cache file is ignored and rebuilt, never loaded.
  for (const auto& e : fs::directory_iterator(dir)) {
    fs::resize_file(e.path(), fs::file_size(e.path()) / 2);
    break;
  }
  ocl::OpenClBackend third(dev, cached);
  EXPECT_EQ(third.startup().programs_from_cache, third.startup().programs - 1);
  std::vector<float> v = {1, 2, 3, 4}, out(4);
  Tensor a = third.upload_f32(v.data(), 1, 4), b = third.upload_f32(v.data(), 1, 4);
  third.add(a, b);
  third.read(a, out.data());
  EXPECT_EQ(out, (std::vector<float>{2, 4, 6, 8}));
  fs::remove_all(dir);
}

TEST(OpenClStart, KernelsDirOverridesEmbeddedSources) {
  DLX_REQUIRE_OPENCL();
  OpenClSettings settings;  // no program cache: every kernel is compiled from its source
  {
    settings.kernels_dir = std::string(DLX_SOURCE_DIR) + "/kernels_cl";
    std::string note;
    auto b = make_backend("opencl", 1, &note, settings);
    EXPECT_NE(b->name(), "cpu") << note;
  }
  // A kernel that does not compile: the backend falls back to the CPU and says why.
  const fs::path dir = temp_dir("kernels");
  for (const auto& e : fs::directory_iterator(std::string(DLX_SOURCE_DIR) + "/kernels_cl")) {
    fs::copy_file(e.path(), dir / e.path().filename());
  }
  std::ofstream(dir / "rmsnorm.cl", std::ios::app) << "\nthis is not OpenCL C;\n";
  settings.kernels_dir = dir.string();
  std::string note;
  auto b = make_backend("opencl", 1, &note, settings);
  EXPECT_EQ(b->name(), "cpu");
  EXPECT_NE(note.find("clBuildProgram(rmsnorm.cl)"), std::string::npos) << note;
  fs::remove_all(dir);
}

TEST(OpenClStart, AutoNeverPicksACpuOpenClDevice) {
  DLX_REQUIRE_OPENCL();
  const auto devs = ocl::list_devices();
  std::string note;
  auto b = make_backend("auto", 1, &note);
  if (ocl::auto_device(devs) < 0) {
    EXPECT_EQ(b->name(), "cpu");
    EXPECT_TRUE(note.empty()) << note;
  } else {
    EXPECT_EQ(b->name(), "opencl:" + std::to_string(ocl::auto_device(devs)));
  }
}

#endif  // DIFFULEX_HAVE_OPENCL

}  // namespace
}  // namespace dlx::test
