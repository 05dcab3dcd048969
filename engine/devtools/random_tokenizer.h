// A small byte-level BPE tokenizer (Hugging Face tokenizer.json layout, GPT-2 byte alphabet and
// Qwen-style pre-tokenizer) whose merges are learnt from a built-in English text, for random
// models. Regular tokens take ids [0, 256 + merges); special tokens keep the ids given.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace dlx {

struct SpecialToken {
  std::string content;
  int32_t id;
};

// max_regular: most regular tokens allowed (>= 256); merges stop there or when the text has no
// pair left that occurs twice. Returns the tokenizer.json object.
nlohmann::json make_bpe_tokenizer_json(int max_regular, const std::vector<SpecialToken>& specials);

}  // namespace dlx
