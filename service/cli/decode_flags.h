// Decoding keys as command-line flags: every key of decode_param_keys() is `--key-name VALUE`
// (underscores become dashes) on generate, chat and bench, resolved through the engine's one
// resolve_decode_params like HTTP's "diffusion" object.
#pragma once

#include <set>
#include <string>

#include "engine/decode/decode_params.h"
#include "service/cli/args.h"

namespace dlx::cli {

// gen_length -> gen-length
std::string decode_key_flag(const std::string& key);
// The option names (without dashes) of every decoding key.
const std::set<std::string>& decode_flag_options();
// One line per decoding key for --help: "  --gen-length int > 0   positions to generate".
std::string decode_flags_help();
// The decoding keys given on the command line, in order, as (key, text value).
TextOverrides decode_overrides(const Args& a);

}  // namespace dlx::cli
