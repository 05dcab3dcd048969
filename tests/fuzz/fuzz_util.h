// Shared helpers of the libFuzzer targets: a scratch folder for parsers that read files, the
// split of one input into several files, and the rule for which exceptions are expected.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "engine/util/error.h"

namespace dlx::fuzz {

// A private folder for this process (under /dev/shm when it exists: no disk writes per input),
// removed at exit.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string tmpl = std::string(base) + "/dlx_fuzz_XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  // Writes `bytes` to `name`, then extends the file with `zero_tail` bytes of a hole (sparse:
  // nothing is written for it). Returns the path.
  std::string write(const std::string& name, std::string_view bytes, size_t zero_tail = 0) const {
    const std::string p = file(name);
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot write " + p);
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    if (zero_tail > 0 && ::ftruncate(fd, static_cast<off_t>(bytes.size() + zero_tail)) != 0) {
      ::close(fd);
      throw std::runtime_error("cannot extend " + p);
    }
    ::close(fd);
    return p;
  }
  void remove(const std::string& name) const { ::unlink(file(name).c_str()); }

 private:
  std::string path_;
};

// The process's scratch folder (created on first use).
inline const ScratchDir& scratch() {
  static const ScratchDir dir;
  return dir;
}

// Splits an input into at most `max_parts` parts at NUL bytes ("a\0b" -> {"a", "b"}); the
// last part keeps any further NULs. Lets one input carry several files.
inline std::vector<std::string_view> split_parts(const uint8_t* data, size_t size,
                                                 size_t max_parts) {
  std::vector<std::string_view> parts;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (parts.size() + 1 < max_parts) {
    const size_t at = rest.find('\0');
    if (at == std::string_view::npos) break;
    parts.push_back(rest.substr(0, at));
    rest.remove_prefix(at + 1);
  }
  parts.push_back(rest);
  return parts;
}

// The parsers under test promise dlx::Error for every bad input. kInternal means "a broken
// invariant: a bug", so it is rethrown (the fuzzer reports it as a crash), as is any other
// exception type (nlohmann::json errors, std::out_of_range, ...): those escape the documented
// contract.
inline void expected(const Error& e) {
  if (e.code() == ErrorCode::kInternal) throw;
}

}  // namespace dlx::fuzz
