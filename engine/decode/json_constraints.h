// TokenConstraints for the value holes of structured output (json_schema_template.h). Each keeps
// its hole completable whatever order the loop commits positions in: a token is allowed at an
// offset only if some valid value still agrees with every committed position and that token.
//
// Hole shape shared by all three: a hole of n positions whose first k positions hold the value
// and whose positions from k on hold end tokens (the variable-hole rule of canvas_template.h);
// k >= min_tokens, an end token never precedes a value token.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "engine/decode/canvas_template.h"
#include "engine/decode/json_token_classes.h"

namespace dlx {

// The inside of a JSON string: tokens of complete UTF-8 with nothing that needs escaping, at
// least min_tokens of them, and at most max_chars code points in all (when given).
std::shared_ptr<const TokenConstraint> make_string_constraint(
    std::shared_ptr<const JsonTokenClasses> classes, int min_tokens, int max_tokens,
    std::optional<int> max_chars);

// A JSON number written one character per position. integer: -?(0|[1-9][0-9]*) with a value in
// [lo, hi] (no "-0"); otherwise -?(0|[1-9][0-9]*)(\.[0-9]+)? (no exponent). At most
// `max_chars` (<= 24; <= 19 for integers) characters.
struct NumberSpec {
  bool integer = true;
  int64_t lo = 0, hi = 0;  // integer only
  int max_chars = 12;
};
std::shared_ptr<const TokenConstraint> make_number_constraint(
    std::shared_ptr<const JsonTokenClasses> classes, const NumberSpec& spec);

// One of a few token sequences (an enum's values), each padded with end tokens to the longest.
std::shared_ptr<const TokenConstraint> make_choice_constraint(
    std::shared_ptr<const JsonTokenClasses> classes, std::vector<std::vector<int32_t>> choices);

}  // namespace dlx
