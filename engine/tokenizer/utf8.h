// UTF-8 helpers for the tokenizer: validation, U+FFFD substitution, code point iteration and
// the "complete prefix" test that lets a stream emit only whole characters.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dlx::utf8 {

// True when s is well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
bool is_valid(std::string_view s);

// Copies s, replacing every maximal invalid subsequence with U+FFFD: the Unicode "substitution
// of maximal subparts" practice, which Python's errors="replace" and Rust's from_utf8_lossy
// also follow, so our output matches theirs byte for byte.
std::string sanitize(std::string_view s);

// Length of the longest prefix of s that does not end inside a character that later bytes
// could still complete. Bytes that can never become valid are part of the prefix (sanitize
// turns them into U+FFFD); only a valid-so-far incomplete tail is held back.
size_t complete_prefix(std::string_view s);

// Decodes the code point starting at s[i] of VALID UTF-8 and advances i past it.
char32_t next(std::string_view s, size_t& i);

// Appends the UTF-8 encoding of cp (cp must be a Unicode scalar value).
void append(std::string& out, char32_t cp);

// Number of code points in valid UTF-8.
size_t length(std::string_view s);

}  // namespace dlx::utf8
