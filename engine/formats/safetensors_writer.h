// SafetensorsWriter: writes one .safetensors file as a stream. Every tensor's name, dtype and
// shape are declared up front (the header holds all offsets), then the tensors' bytes are
// appended in declaration order, so a multi-GB file never has to be held in memory.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "engine/formats/dtype.h"

namespace dlx {

struct TensorDecl {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;

  int64_t numel() const;
  uint64_t nbytes() const { return static_cast<uint64_t>(numel()) * dtype_size(dtype); }
};

class SafetensorsWriter {
 public:
  // Opens `path` and writes the header. Throws Error kNotFound when the file cannot be created.
  SafetensorsWriter(const std::string& path, std::vector<TensorDecl> tensors,
                    const std::map<std::string, std::string>& metadata = {{"format", "pt"}});
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  // Appends bytes of the current tensor (tensors in declaration order; a call may span several
  // tensors). Throws Error kInternal when more bytes arrive than the declarations cover.
  void write(const void* data, size_t bytes);
  // Flushes and closes; throws unless exactly the declared bytes were written.
  void finish();

  uint64_t data_bytes() const { return total_; }
  uint64_t written() const { return written_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  uint64_t total_ = 0, written_ = 0;
};

}  // namespace dlx
