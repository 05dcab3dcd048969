// WeightSource: where a model's tensors come from — a safetensors checkpoint (TensorStore) or a
// GGUF file — as zero-copy views under the Hugging Face tensor names and shapes of the model's
// family (engine/model/arch_spec.h), so the model loads the same way from either.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/formats/dtype.h"

namespace dlx {

// A tensor's bytes inside a mapped file (not owned).
struct HostTensor {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // HF order: [rows, cols] for a matrix, [n] for a vector
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  std::string file;  // for error messages

  int64_t numel() const;
  std::string shape_str() const;  // "[512, 64]"
};

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  virtual const HostTensor* find(const std::string& name) const = 0;
  virtual const std::map<std::string, const HostTensor*>& all() const = 0;
  virtual const std::vector<std::string>& files() const = 0;  // the files read, for messages
  virtual uint64_t total_bytes() const = 0;                   // their size on disk
  // "" while every file is as it was opened; else "<path> <what happened>" (see MappedFile).
  virtual std::string changed() const = 0;
};

}  // namespace dlx
