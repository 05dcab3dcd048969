// Tensor: a 2-D row-major view [rows, cols] of backend-owned storage. Activations are f32;
// weights keep their file dtype. A view shares storage and adds a row offset, so ops can work
// on a slice (a block of the canvas, a range of KV-cache rows) without copies.
#pragma once

#include <cstdint>
#include <memory>

#include "engine/formats/dtype.h"

namespace dlx {

// Storage owned by a backend (host memory, an mmap, a cl_mem ...).
class Storage {
 public:
  virtual ~Storage() = default;
};

// How products with a weight are computed (Backend::upload_weight):
//   kExact: f32 products of the stored values (dequantized exactly); matches an f32 reference
//           to rounding, what the golden tests check.
//   kBF16:  bf16 dot products with f32 accumulation: activations rounded to bf16 (what PyTorch
//           does with a bf16 model); for bf16 / f16 weights.
//   kInt8:  integer dot products: activations quantized per row to int8 on the fly (what
//           llama.cpp does); for Q8_0 / Q4_0 weights.
// A backend without a kernel for the asked precision computes kExact.
enum class Precision : uint8_t { kExact, kBF16, kInt8 };

struct Tensor {
  std::shared_ptr<Storage> storage;
  DType dtype = DType::kF32;
  Precision precision = Precision::kExact;  // weights only
  int64_t rows = 0, cols = 0;
  int64_t row0 = 0;  // first row of this view inside storage

  bool empty() const { return storage == nullptr; }
  int64_t numel() const { return rows * cols; }
  // Rows [r0, r0 + n) of this view.
  Tensor view(int64_t r0, int64_t n) const {
    Tensor t = *this;
    t.row0 = row0 + r0;
    t.rows = n;
    return t;
  }
};

}  // namespace dlx
