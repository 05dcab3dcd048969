// libFuzzer target: the safetensors header (engine/formats/safetensors), the one parser of a
// weight file's bytes. An input that starts with '{' is a header: it is written after its
// 8-byte length with a 1 MiB data section of zeros (a sparse hole), so real headers with their
// tensor offsets (the seeds) are valid files. Any other input is the whole file as it is, to
// reach the length prefix and the truncation checks.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/formats/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

constexpr size_t kDataSection = 1u << 20;

void check_tensors(const dlx::SafetensorsFile& f) {
  // What the loader reads next: every view must lie inside the mapping.
  const size_t end = f.file_size();
  for (const auto& [name, t] : f.tensors()) {
    if (t.nbytes > end || t.numel() < 0) __builtin_trap();
    volatile uint8_t sink = 0;
    if (t.nbytes > 0) sink = sink + t.data[0] + t.data[t.nbytes - 1];
    (void)sink;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string path;
  if (!in.empty() && in[0] == '{') {
    std::string file(8, '\0');
    for (int i = 0; i < 8; ++i) file[i] = static_cast<char>(uint64_t{size} >> (8 * i) & 0xff);
    file.append(in);
    path = dlx::fuzz::scratch().write("model.safetensors", file, kDataSection);
  } else {
    path = dlx::fuzz::scratch().write("model.safetensors", in);
  }
  try {
    dlx::SafetensorsFile f(path);
    check_tensors(f);
  } catch (const dlx::Error& e) {
    dlx::fuzz::expected(e);
  }
  return 0;
}
