// The bytes_to_unicode table, built once.
#include "engine/tokenizer/byte_level.h"

#include <array>

#include "engine/tokenizer/utf8.h"

namespace dlx::byte_level {
namespace {

struct Tables {
  std::array<char32_t, 256> cp{};
  std::array<std::string, 256> utf8;
  std::array<int16_t, 512> byte{};  // code point -> byte; every mapped cp is < 0x144
  Tables() {
    byte.fill(-1);
    auto kept = [](int b) {
      return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      cp[b] = kept(b) ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
      byte[cp[b]] = static_cast<int16_t>(b);
      utf8::append(utf8[b], cp[b]);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

char32_t byte_to_cp(uint8_t b) {
  return tables().cp[b];
}

int cp_to_byte(char32_t cp) {
  return cp < 512 ? tables().byte[cp] : -1;
}

void encode(std::string_view s, std::string& out) {
  const auto& t = tables();
  for (char c : s) out.append(t.utf8[static_cast<uint8_t>(c)]);
}

bool decode(std::string_view token, std::string& out) {
  const size_t start = out.size();
  size_t i = 0;
  while (i < token.size()) {
    const int b = cp_to_byte(utf8::next(token, i));
    if (b < 0) {
      out.resize(start);
      return false;
    }
    out.push_back(static_cast<char>(b));
  }
  return true;
}

}  // namespace dlx::byte_level
