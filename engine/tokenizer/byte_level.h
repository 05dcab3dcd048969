// GPT-2's byte <-> character table (bytes_to_unicode): ByteLevel pre-tokenizers map every byte
// to a printable character before BPE, and the ByteLevel decoder maps them back.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dlx::byte_level {

// The code point byte b maps to (printable ASCII and most of Latin-1 map to themselves, the
// rest to U+0100..U+0143).
char32_t byte_to_cp(uint8_t b);

// The byte code point cp stands for, or -1 when cp is not in the table.
int cp_to_byte(char32_t cp);

// Appends the mapped characters of every byte of s to out.
void encode(std::string_view s, std::string& out);

// Appends the bytes a byte-level token stands for. Returns false (appending nothing) when a
// character of token is not in the table: the caller then uses the token's text as is, as the
// Hugging Face ByteLevel decoder does.
bool decode(std::string_view token, std::string& out);

}  // namespace dlx::byte_level
