// read_text_file: only regular files, never more than the cap, never blocking on a FIFO.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/tokenizer/tokenizer.h"
#include "engine/util/error.h"
#include "engine/util/mapped_file.h"
#include "tests/support/test_util.h"

namespace dlx::test {
namespace {
namespace fs = std::filesystem;

fs::path scratch(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("dlx_text_file_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d / name;
}

ErrorCode code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::kInternal;
}

TEST(ReadTextFile, ReadsARegularFile) {
  const fs::path p = scratch("ok.json");
  std::ofstream(p) << "{\"a\": 1}";
  EXPECT_EQ(read_text_file(p.string()), "{\"a\": 1}");
}

TEST(ReadTextFile, RefusesAFileOverTheCap) {
  const fs::path p = scratch("big.json");
  std::ofstream(p) << std::string(2000, 'x');
  EXPECT_EQ(read_text_file(p.string(), 2000).size(), 2000u);
  try {
    read_text_file(p.string(), 1999);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("larger than the limit of 1999 bytes"),
              std::string::npos)
        << e.what();
  }
}

TEST(ReadTextFile, RefusesDevicesAndFifosWithoutBlocking) {
  EXPECT_EQ(code_of([] { read_text_file("/dev/zero"); }), ErrorCode::kInvalidModel);
  const fs::path fifo = scratch("fifo.json");
  fs::remove(fifo);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(code_of([&] { read_text_file(fifo.string()); }), ErrorCode::kInvalidModel);
  EXPECT_EQ(code_of([] { read_text_file("/nonexistent/config.json"); }), ErrorCode::kNotFound);
}

TEST(ReadTextFile, ATokenizerFolderWithAFifoFailsAtLoad) {
  const fs::path dir = scratch("tok");
  fs::create_directories(dir);
  fs::copy_file(fixtures() + "/tokenizers/qwen3/tokenizer.json", dir / "tokenizer.json",
                fs::copy_options::overwrite_existing);
  fs::remove(dir / "tokenizer_config.json");
  ASSERT_EQ(::mkfifo((dir / "tokenizer_config.json").c_str(), 0600), 0);
  EXPECT_EQ(code_of([&] { Tokenizer::load(dir.string()); }), ErrorCode::kInvalidModel);
}

}  // namespace
}  // namespace dlx::test
