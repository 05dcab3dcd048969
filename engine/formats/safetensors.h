// Safetensors reader: validates the header of an untrusted file completely (lengths, dtypes,
// shapes, offsets, overlaps) before any tensor data is touched, then exposes zero-copy views
// into the memory-mapped file. Also reads sharded checkpoints through their index.json.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/formats/dtype.h"
#include "engine/util/mapped_file.h"

namespace dlx {

// A tensor's bytes inside a mapped file (not owned).
struct HostTensor {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  std::string file;  // for error messages

  int64_t numel() const;
  std::string shape_str() const;  // "[512, 64]"
};

class SafetensorsFile {
 public:
  // Largest header we accept: real checkpoints stay far below it.
  static constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

  explicit SafetensorsFile(const std::string& path);  // throws Error kInvalidModel / kNotFound
  const std::map<std::string, HostTensor>& tensors() const { return tensors_; }
  const std::string& path() const { return file_->path(); }
  size_t file_size() const { return file_->size(); }

 private:
  std::unique_ptr<MappedFile> file_;
  std::map<std::string, HostTensor> tensors_;
};

// All tensors of a checkpoint, possibly spread over several shards.
class TensorStore {
 public:
  // `weights` empty: model.safetensors, else model.safetensors.index.json's shards.
  // Otherwise the named file (relative to dir, or absolute).
  static TensorStore open(const std::string& dir, const std::string& weights = {});

  const HostTensor* find(const std::string& name) const;
  const std::map<std::string, const HostTensor*>& all() const { return index_; }
  const std::vector<std::string>& files() const { return files_; }
  uint64_t total_bytes() const { return total_bytes_; }

 private:
  void add_file(const std::string& path);
  std::vector<std::shared_ptr<SafetensorsFile>> shards_;
  std::map<std::string, const HostTensor*> index_;
  std::vector<std::string> files_;
  uint64_t total_bytes_ = 0;
};

}  // namespace dlx
