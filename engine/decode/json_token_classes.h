// Per-vocabulary token classes for structured output, computed once per (tokenizer, logits
// width, end tokens) and shared by every constraint compiled for it: which tokens may sit inside
// a JSON string, which tokens are exactly one ASCII character (numbers are built from those).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/tokenizer/tokenizer.h"

namespace dlx {

struct JsonTokenClasses {
  static constexpr int kMaxEndIds = 8;      // end tokens kept (the first ones of the model's)
  static constexpr int kMaxIdsPerChar = 4;  // single-character tokens kept per ASCII character

  int vocab = 0;  // V: the width of a logits row (may exceed the tokenizer's id space)
  // [V] code points of a token allowed inside a JSON string; 0 = not allowed there (special
  // tokens, quote, backslash, control characters, bytes that are not complete UTF-8).
  std::vector<uint8_t> string_chars;
  // [V] the ASCII character a non-special token decodes to exactly, or -1.
  std::vector<int8_t> ascii_of;
  // The ids that decode to exactly each ASCII character (at most kMaxIdsPerChar).
  std::array<std::vector<int32_t>, 128> ascii_ids;
  std::vector<int32_t> end_ids;               // at most kMaxEndIds
  bool has_single_char_string_token = false;  // one 1-code-point token: strings are completable

  bool is_end(int32_t id) const {
    for (int32_t e : end_ids) {
      if (e == id) {
        return true;
      }
    }
    return false;
  }
};

// The classes for this tokenizer (cached: the last few tokenizers seen are kept while alive).
// `vocab` is the model's logits width; `end_ids` the model's end tokens (ModelConfig::eos_ids).
// Throws Error kUnsupported when the vocabulary lacks single-digit tokens or end tokens.
std::shared_ptr<const JsonTokenClasses> json_token_classes(
    const std::shared_ptr<const Tokenizer>& tok, int vocab, const std::vector<int32_t>& end_ids);

}  // namespace dlx
