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

struct Tensor {
  std::shared_ptr<Storage> storage;
  DType dtype = DType::kF32;
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
