// Parsing JSON that comes from outside the process (model files, request bodies) with a nesting
// depth cap and a size cap, so a hostile document cannot exhaust the stack (recursive walks,
// dump) or memory. Violations throw dlx::Error naming the source.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "engine/util/error.h"

namespace dlx {

struct JsonLimits {
  int max_depth = 512;                // nesting of arrays/objects
  std::size_t max_bytes = 64u << 20;  // whole document
};

// Parses `text`; `source` names it in errors (a path, "request body"). Malformed JSON and limit
// violations throw Error(code, "<source>: ...").
nlohmann::json parse_json_limited(std::string_view text, const std::string& source, ErrorCode code,
                                  const JsonLimits& limits = {});
nlohmann::ordered_json parse_ordered_json_limited(std::string_view text, const std::string& source,
                                                  ErrorCode code, const JsonLimits& limits = {});

}  // namespace dlx
