// Test helper: load a model folder expecting a dlx::Error, and check what the error says.
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "engine/backend/backend.h"
#include "engine/model/model.h"
#include "engine/util/error.h"

namespace dlx {
// gtest prints codes by name.
inline void PrintTo(ErrorCode c, std::ostream* os) {
  *os << error_code_name(c);
}
}  // namespace dlx

namespace dlx::test {

// Runs `fn`, which must throw dlx::Error; returns it. Anything else fails the test.
template <typename F>
Error expect_error(F&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-dlx exception: " << e.what();
    return Error(ErrorCode::kInternal, "<non-dlx exception>");
  }
  ADD_FAILURE() << "no error was thrown";
  return Error(ErrorCode::kInternal, "<no error>");
}

inline Error load_error(const std::string& dir, const LoadOptions& opts = {}) {
  return expect_error([&] { Model::load(dir, make_cpu_backend(1), opts); });
}

#define EXPECT_CONTAINS(haystack, needle)                          \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) \
      << "message: " << (haystack) << "\nlacks: " << (needle)

// The error has `code` and its message names `file` and contains `problem`.
#define EXPECT_LOAD_ERROR(err, code_, file, problem) \
  do {                                               \
    const ::dlx::Error& e_ = (err);                  \
    EXPECT_EQ(e_.code(), code_) << e_.what();        \
    EXPECT_CONTAINS(e_.what(), file);                \
    EXPECT_CONTAINS(e_.what(), problem);             \
  } while (0)

}  // namespace dlx::test
