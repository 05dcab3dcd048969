// A loaded model whose weight file is rewritten or truncated in place: the next forward fails
// with an error naming the file (reason model_file_changed) instead of SIGBUS killing the
// process; the guard turns a read past the new end of a mapped file into zeros plus a flag.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "engine/backend/backend_factory.h"
#include "engine/model/model.h"
#include "engine/util/error.h"
#include "engine/util/mapped_file.h"
#include "tests/support/test_util.h"

namespace dlx::test {
namespace {
namespace fs = std::filesystem;

fs::path scratch_dir(const std::string& name) {
  const fs::path d =
      fs::temp_directory_path() / ("dlx_file_change_" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// A private copy of the llada fixture (config + weights), so the test may damage it.
fs::path copy_of_llada(const std::string& name) {
  const fs::path d = scratch_dir(name);
  for (const char* f : {"config.json", "generation_config.json", "model.safetensors"}) {
    fs::copy_file(fs::path(model_dir("llada")) / f, d / f);
  }
  return d;
}

// Runs one forward over a few tokens; returns the Error's reason, "" when it succeeded.
std::string forward_reason(const Model& m) {
  Session st = m.new_session(8, 8);
  const std::vector<int32_t> ids = {1, 2, 3, 4};
  ForwardSpan span;
  span.ids = ids;
  try {
    m.forward(st, span);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable) << e.what();
    EXPECT_NE(std::string(e.what()).find("model.safetensors"), std::string::npos) << e.what();
    return e.reason();
  }
  return {};
}

TEST(ModelFileChange, TruncatedWeightsFailTheForwardNotTheProcess) {
  const fs::path dir = copy_of_llada("truncated");
  auto m = Model::load(dir.string(), make_cpu_backend(1));
  EXPECT_EQ(forward_reason(*m), "");
  ASSERT_EQ(::truncate((dir / "model.safetensors").c_str(), 8), 0);
  EXPECT_EQ(forward_reason(*m), "model_file_changed");
  EXPECT_EQ(forward_reason(*m), "model_file_changed");  // and stays so until reloaded
}

TEST(ModelFileChange, WeightsRewrittenInPlaceFailTheForward) {
  const fs::path dir = copy_of_llada("rewritten");
  auto m = Model::load(dir.string(), make_cpu_backend(1));
  EXPECT_EQ(forward_reason(*m), "");
  std::this_thread::sleep_for(std::chrono::milliseconds(30));  // a later mtime tick
  // What `cp other.safetensors model.safetensors` does: same inode, new bytes.
  const std::string bytes = read_file((dir / "model.safetensors").string());
  std::ofstream(dir / "model.safetensors", std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_EQ(forward_reason(*m), "model_file_changed");
}

TEST(ModelFileChange, ReplacingTheFileByRenameIsSafe) {
  const fs::path dir = copy_of_llada("renamed");
  auto m = Model::load(dir.string(), make_cpu_backend(1));
  fs::copy_file(dir / "model.safetensors", dir / "new.safetensors");
  fs::rename(dir / "new.safetensors", dir / "model.safetensors");
  EXPECT_EQ(forward_reason(*m), "");  // the mapping still holds the old inode
}

TEST(ModelFileChange, TheGuardTurnsSigbusIntoZerosAndAFlag) {
  const fs::path p = scratch_dir("guard") / "blob.bin";
  std::ofstream(p, std::ios::binary) << std::string(1 << 16, '\x5a');
  MappedFile f(p.string());
  EXPECT_EQ(f.data()[40000], 0x5a);
  EXPECT_EQ(f.changed(), "");
  ASSERT_EQ(::truncate(p.c_str(), 0), 0);
  // Past the new end of file: SIGBUS without the guard.
  const volatile uint8_t* bytes = f.data();
  EXPECT_EQ(bytes[50000], 0);
  EXPECT_EQ(f.changed(), "was truncated or rewritten in place while mapped");
}

}  // namespace
}  // namespace dlx::test
