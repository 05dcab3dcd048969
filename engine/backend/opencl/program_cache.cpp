// Program building with a disk cache of CL_PROGRAM_BINARIES (see program_cache.h).
#include "engine/backend/opencl/program_cache.h"

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "engine/backend/opencl/cl_error.h"

namespace dlx::ocl {
namespace {

constexpr char kMagic[] = "DLXCLBIN1\n";

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string cache_key(const DeviceInfo& dev, const std::string& name, const std::string& source,
                      const std::string& options) {
  std::string k = "diffulex-opencl-program-v1\n";
  for (const std::string* part : {&name, &options, &dev.platform_name, &dev.platform_version,
                                  &dev.name, &dev.device_version, &dev.driver_version}) {
    k += *part;
    k += '\n';
  }
  k += source;
  return k;
}

bool read_u64(std::istream& in, uint64_t* v) {
  return static_cast<bool>(in.read(reinterpret_cast<char*>(v), sizeof *v));
}

// The cached binary for `key`, or empty when absent, unreadable or for another key.
std::vector<unsigned char> load_binary(const std::string& path, const std::string& key) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  char magic[sizeof kMagic - 1];
  uint64_t klen = 0, blen = 0;
  if (!in.read(magic, sizeof magic) || std::string(magic, sizeof magic) != kMagic) return {};
  if (!read_u64(in, &klen) || klen != key.size()) return {};
  std::string k(klen, '\0');
  if (!in.read(k.data(), static_cast<std::streamsize>(klen)) || k != key) return {};
  if (!read_u64(in, &blen) || blen == 0 || blen > (uint64_t{1} << 30)) return {};
  std::vector<unsigned char> bin(blen);
  if (!in.read(reinterpret_cast<char*>(bin.data()), static_cast<std::streamsize>(blen))) return {};
  return bin;
}

// Writes through a temporary file and a rename, so a concurrent reader never sees half a file.
void store_binary(const std::string& path, const std::string& key,
                  const std::vector<unsigned char>& bin) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return;
    const uint64_t klen = key.size(), blen = bin.size();
    out.write(kMagic, sizeof kMagic - 1);
    out.write(reinterpret_cast<const char*>(&klen), sizeof klen);
    out.write(key.data(), static_cast<std::streamsize>(klen));
    out.write(reinterpret_cast<const char*>(&blen), sizeof blen);
    out.write(reinterpret_cast<const char*>(bin.data()), static_cast<std::streamsize>(blen));
    if (!out) {
      out.close();
      std::remove(tmp.c_str());
      return;
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) std::remove(tmp.c_str());
}

std::string build_log(cl_program p, cl_device_id d) {
  size_t n = 0;
  if (clGetProgramBuildInfo(p, d, CL_PROGRAM_BUILD_LOG, 0, nullptr, &n) != CL_SUCCESS) return {};
  std::string s(n, '\0');
  clGetProgramBuildInfo(p, d, CL_PROGRAM_BUILD_LOG, n, s.data(), nullptr);
  while (!s.empty() && (s.back() == '\0' || s.back() == '\n')) s.pop_back();
  if (s.size() > 4000) s = s.substr(0, 4000) + "\n...";
  return s;
}

std::vector<unsigned char> program_binary(cl_program p) {
  size_t size = 0;
  if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, nullptr) != CL_SUCCESS ||
      size == 0) {
    return {};
  }
  std::vector<unsigned char> bin(size);
  unsigned char* ptrs[1] = {bin.data()};
  if (clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof ptrs, ptrs, nullptr) != CL_SUCCESS) return {};
  return bin;
}

Program from_binary(cl_context ctx, const DeviceInfo& dev, const std::vector<unsigned char>& bin,
                    const std::string& options) {
  const size_t len = bin.size();
  const unsigned char* ptr = bin.data();
  cl_int bin_status = CL_SUCCESS, err = CL_SUCCESS;
  Program p(clCreateProgramWithBinary(ctx, 1, &dev.device, &len, &ptr, &bin_status, &err));
  if (err != CL_SUCCESS || bin_status != CL_SUCCESS) return Program();
  if (clBuildProgram(p.get(), 1, &dev.device, options.c_str(), nullptr, nullptr) != CL_SUCCESS) {
    return Program();
  }
  return p;
}

}  // namespace

BuiltProgram build_program(cl_context ctx, const DeviceInfo& dev, const std::string& name,
                           const std::string& source, const std::string& options,
                           const std::string& dir) {
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  BuiltProgram out;
  const std::string key = cache_key(dev, name, source, options);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a(key)));
  const std::string path = dir.empty() ? std::string() : dir + "/" + name + "-" + hex + ".bin";

  if (!path.empty()) {
    const auto bin = load_binary(path, key);
    if (!bin.empty()) {
      out.program = from_binary(ctx, dev, bin, options);
      if (out.program) {
        out.from_cache = true;
        out.ms = elapsed();
        return out;
      }
    }
  }
  const char* src = source.c_str();
  const size_t len = source.size();
  cl_int err = CL_SUCCESS;
  out.program = Program(clCreateProgramWithSource(ctx, 1, &src, &len, &err));
  cl_check(err, "clCreateProgramWithSource");
  err = clBuildProgram(out.program.get(), 1, &dev.device, options.c_str(), nullptr, nullptr);
  if (err != CL_SUCCESS) {
    throw BackendError(ErrorCode::kInternal, "opencl: clBuildProgram(" + name +
                                                 ".cl): " + cl_error_name(err) + "\n" +
                                                 build_log(out.program.get(), dev.device));
  }
  if (!path.empty()) {
    const auto bin = program_binary(out.program.get());
    if (!bin.empty()) store_binary(path, key, bin);
  }
  out.ms = elapsed();
  return out;
}

}  // namespace dlx::ocl
