// A file compiled into the binary by cmake/embed_files.cmake (OpenCL kernels, SQL migrations,
// the web playground): its path relative to the embedded folder and its bytes.
#pragma once

#include <string_view>

namespace dlx {

struct EmbeddedFile {
  std::string_view path;  // e.g. "0001_init.sql", "app.js"
  std::string_view data;
};

}  // namespace dlx
