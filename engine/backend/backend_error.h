// BackendError: a dlx::Error raised by a device backend (OpenCL call failed, device out of
// memory, kernel build failed). Callers may retry such a failure on the CPU backend; errors of
// any other type (bad model file, bad argument) would fail the same way there.
#pragma once

#include <string>

#include "engine/util/error.h"

namespace dlx {

class BackendError : public Error {
 public:
  using Error::Error;
};

}  // namespace dlx
