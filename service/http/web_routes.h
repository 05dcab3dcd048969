// Serves the web playground at / : the copy embedded into the binary, or (--web-dir, for
// development) the files on disk, re-read on every request. Correct content types, an ETag
// from the content and Cache-Control: no-cache, so browsers revalidate and get 304s.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "service/http/router.h"

namespace dlx::http {

// Adds open (no API key: the page must load before the user can enter one) GET routes for "/"
// (index.html) and each playground file, by exact path, so they never shadow API routes.
// `web_dir` empty: the embedded files. Otherwise the files that folder holds now (throws
// Error if it has no index.html); their contents are re-read on every request.
void add_web_routes(Router& router, const std::string& web_dir);

// Content type of a playground file by its extension; nullopt for types it never serves.
std::optional<std::string_view> web_content_type(std::string_view name);

}  // namespace dlx::http
