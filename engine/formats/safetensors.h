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
#include "engine/formats/weight_source.h"
#include "engine/util/mapped_file.h"

namespace dlx {

class SafetensorsFile {
 public:
  // Largest header we accept: real checkpoints stay far below it.
  static constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

  explicit SafetensorsFile(const std::string& path);  // throws Error kInvalidModel / kNotFound
  const std::map<std::string, HostTensor>& tensors() const { return tensors_; }
  const std::string& path() const { return file_->path(); }
  size_t file_size() const { return file_->size(); }
  std::string changed() const { return file_->changed(); }

 private:
  std::unique_ptr<MappedFile> file_;
  std::map<std::string, HostTensor> tensors_;
};

// All tensors of a checkpoint, possibly spread over several shards.
class TensorStore final : public WeightSource {
 public:
  // `weights` empty: model.safetensors, else model.safetensors.index.json's shards.
  // Otherwise the named file (relative to dir, or absolute).
  static TensorStore open(const std::string& dir, const std::string& weights = {});

  const HostTensor* find(const std::string& name) const override;
  const std::map<std::string, const HostTensor*>& all() const override { return index_; }
  const std::vector<std::string>& files() const override { return files_; }
  uint64_t total_bytes() const override { return total_bytes_; }
  std::string changed() const override;

 private:
  void add_file(const std::string& path);
  std::vector<std::shared_ptr<SafetensorsFile>> shards_;
  std::map<std::string, const HostTensor*> index_;
  std::vector<std::string> files_;
  uint64_t total_bytes_ = 0;
};

}  // namespace dlx
