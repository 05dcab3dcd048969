// `diffulex generate --schema FILE`: structured output from the command line (README:
// Structured output), the same engine path as the HTTP `schema` / `response_format`.
#pragma once

#include "service/cli/args.h"

namespace dlx::cli {

// Runs the generation `a` describes (--prompt TEXT [--chat] or --prompt-ids, --schema FILE,
// decoding flags) and prints the JSON document (with --json, a result object around it).
int run_schema(const Args& a);

}  // namespace dlx::cli
