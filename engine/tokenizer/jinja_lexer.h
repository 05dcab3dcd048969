// jinja::lex: splits a template into tokens with the whitespace rules transformers renders
// chat templates with — trim_blocks, lstrip_blocks, "-" / "+" modifiers, newline
// normalization and dropping a single trailing newline (keep_trailing_newline=False).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dlx::jinja {

struct Token {
  enum class Type {
    kData,
    kVarBegin,
    kVarEnd,
    kBlockBegin,
    kBlockEnd,
    kName,
    kString,
    kInt,
    kFloat,
    kOp,
    kEof
  };
  Type type;
  std::string text;  // data, name, operator, or the decoded string literal
  int64_t i = 0;
  double f = 0;
  int line = 1;
};

// Throws Error kInvalidModel ("chat template line N: ...") on lexical errors.
std::vector<Token> lex(std::string_view source);

}  // namespace dlx::jinja
