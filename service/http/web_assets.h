// The web playground's files (web/), embedded into the binary at build time by
// cmake/embed_files.cmake; the generated web_assets.cpp defines embedded_web_assets().
#pragma once

#include <vector>

#include "engine/util/embedded_file.h"

namespace dlx::http {

const std::vector<EmbeddedFile>& embedded_web_assets();

}  // namespace dlx::http
