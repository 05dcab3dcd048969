// The web playground's files (web/), embedded into the binary at build time by
// cmake/embed_files.cmake; the generated web_assets.cpp defines embedded_web_assets().
#pragma once

#include <string_view>
#include <vector>

namespace dlx::http {

struct EmbeddedAsset {
  std::string_view path;  // relative to web/, e.g. "app.js"
  std::string_view data;
};

const std::vector<EmbeddedAsset>& embedded_web_assets();

}  // namespace dlx::http
