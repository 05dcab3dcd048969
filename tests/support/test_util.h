// Helpers shared by the tests: fixture paths, running the diffulex binary, reading files.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace dlx::test {

inline std::string fixtures() { return DLX_FIXTURES; }
inline std::string model_dir(const std::string& family) {
  return fixtures() + "/models/" + family;
}
// The diffulex binary as the start of a shell command line; in a cross build (build-arm64/) it
// runs through the emulator, e.g. "/usr/bin/qemu-aarch64 .../diffulex".
#ifdef DLX_EMULATOR
inline std::string binary() { return DLX_EMULATOR " " DLX_BINARY; }
#else
inline std::string binary() { return DLX_BINARY; }
#endif

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout (stderr is appended to err)
  std::string err;
};

// Runs a shell command line; captures stdout and stderr separately.
inline RunResult run(const std::string& cmdline, const std::string& stdin_text = "") {
  static int counter = 0;
  std::string base = "/tmp/dlx_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  std::string in_file = base + ".in", err_file = base + ".err";
  { std::ofstream(in_file) << stdin_text; }
  std::string full = cmdline + " <" + in_file + " 2>" + err_file;
  RunResult r;
  FILE* p = ::popen(full.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(err_file);
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  std::remove(in_file.c_str());
  std::remove(err_file.c_str());
  return r;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<float> read_f32(const std::string& path) {
  std::string s = read_file(path);
  std::vector<float> v(s.size() / 4);
  std::memcpy(v.data(), s.data(), v.size() * 4);
  return v;
}

inline std::string last_line(const std::string& s) {
  size_t end = s.find_last_not_of('\n');
  if (end == std::string::npos) return "";
  size_t start = s.rfind('\n', end);
  return s.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1) + 1);
}

}  // namespace dlx::test
