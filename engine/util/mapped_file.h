// MappedFile: a read-only memory map of a whole file (RAII). Weights are read through it, so a
// model is paged in on demand and shared between processes instead of copied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace dlx {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws Error (kNotFound / kInvalidModel)
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Reads a whole (small) text file such as config.json. Throws Error kNotFound.
std::string read_text_file(const std::string& path);

}  // namespace dlx
