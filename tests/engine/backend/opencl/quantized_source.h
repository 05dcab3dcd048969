// QuantizedSource: a model folder's safetensors weights with every matrix (rows of whole
// 32-value blocks) quantized on the host to Q8_0 or Q4_0 by the reference quantizer, as a
// WeightSource — a Q8_0 / Q4_0 model without a GGUF file, for the OpenCL tests and
// opencl_bench. Vectors (norms, biases) keep their dtype.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "engine/formats/quant.h"
#include "engine/formats/safetensors.h"

namespace dlx::test {

class QuantizedSource final : public WeightSource {
 public:
  QuantizedSource(const std::string& dir, DType type, const std::string& weights = {})
      : store_(TensorStore::open(dir, weights)) {
    for (const auto& [name, src] : store_.all()) {
      HostTensor h = *src;
      if (h.shape.size() == 2 && dtype_row_bytes(type, h.shape[1]) != 0) {
        const int64_t rows = h.shape[0], cols = h.shape[1];
        const size_t rb = dtype_row_bytes(type, cols), src_rb = dtype_row_bytes(h.dtype, cols);
        std::vector<uint8_t>& q = blocks_.emplace_back(static_cast<size_t>(rows) * rb);
        std::vector<float> row(static_cast<size_t>(cols));
        for (int64_t r = 0; r < rows; ++r) {
          dequantize_row(h.dtype, src->data + r * src_rb, cols, row.data());
          quantize_row(type, row.data(), cols, q.data() + r * rb);
        }
        h.dtype = type;
        h.data = q.data();
        h.nbytes = q.size();
      }
      bytes_ += h.nbytes;
      index_[name] = &tensors_.emplace(name, h).first->second;
    }
  }

  const HostTensor* find(const std::string& name) const override {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : it->second;
  }
  const std::map<std::string, const HostTensor*>& all() const override { return index_; }
  const std::vector<std::string>& files() const override { return store_.files(); }
  uint64_t total_bytes() const override { return bytes_; }  // of the tensors as quantized
  std::string changed() const override { return store_.changed(); }

 private:
  TensorStore store_;
  std::deque<std::vector<uint8_t>> blocks_;  // quantized copies (stable addresses)
  std::map<std::string, HostTensor> tensors_;
  std::map<std::string, const HostTensor*> index_;
  uint64_t bytes_ = 0;
};

}  // namespace dlx::test
