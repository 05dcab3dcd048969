// Reads tokenizer_config.json (special tokens, add_bos_token/add_eos_token, chat template)
// into a TokenizerConfig; ids are resolved later by the Tokenizer.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "engine/tokenizer/tokenizer.h"

namespace dlx {

// config may be null (no file). `where` names the file in error messages.
TokenizerConfig parse_tokenizer_config(const nlohmann::json& config, const std::string& where);

}  // namespace dlx
