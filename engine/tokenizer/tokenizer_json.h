// Fast reading of a tokenizer.json: a SAX pass that collects model.vocab and model.merges
// straight into vectors and builds a JSON tree only for the (small) rest of the file.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "engine/tokenizer/bpe_model.h"

namespace dlx {

struct TokenizerJson {
  nlohmann::json rest;  // the file without model.vocab and model.merges
  BpeModel::Vocab vocab;
  BpeModel::Merges merges;
};

// Throws Error kInvalidModel naming `where` for malformed JSON or vocab/merges entries.
TokenizerJson parse_tokenizer_json(std::string_view text, const std::string& where);

}  // namespace dlx
