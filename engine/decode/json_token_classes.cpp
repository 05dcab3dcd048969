#include "engine/decode/json_token_classes.h"

#include <algorithm>
#include <mutex>
#include <string>

#include "engine/util/error.h"

namespace dlx {
namespace {

// Code points of `s` when it is complete, valid UTF-8 with nothing a JSON string must escape
// (quote, backslash, control characters); 0 otherwise.
int string_safe_code_points(const std::string& s) {
  int n = 0;
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      if (c < 0x20 || c == '"' || c == '\\') {
        return 0;
      }
      len = 1;
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return 0;
    }
    if (i + len > s.size()) {
      return 0;
    }
    for (int k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) {
        return 0;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values beyond U+10FFFF are invalid UTF-8.
    static constexpr uint32_t kMinForLen[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLen[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return 0;
    }
    i += len;
    ++n;
  }
  return std::min(n, 255);
}

std::shared_ptr<const JsonTokenClasses> build(const Tokenizer& tok, int vocab,
                                              const std::vector<int32_t>& end_ids) {
  auto c = std::make_shared<JsonTokenClasses>();
  c->vocab = vocab;
  c->string_chars.assign(vocab, 0);
  c->ascii_of.assign(vocab, -1);
  for (int32_t e : end_ids) {
    if (e >= 0 && e < vocab && static_cast<int>(c->end_ids.size()) < JsonTokenClasses::kMaxEndIds) {
      c->end_ids.push_back(e);
    }
  }
  if (c->end_ids.empty()) {
    throw Error(ErrorCode::kUnsupported,
                "structured output needs the model's end token (the model declares none)");
  }
  const int32_t ids = static_cast<int32_t>(std::min<size_t>(tok.vocab_size(), vocab));
  std::string bytes;
  for (int32_t id = 0; id < ids; ++id) {
    if (tok.is_special(id) || c->is_end(id)) {
      continue;
    }
    bytes.clear();
    tok.append_token_bytes(id, false, bytes);
    if (bytes.empty()) {
      continue;
    }
    c->string_chars[id] = static_cast<uint8_t>(string_safe_code_points(bytes));
    c->has_single_char_string_token |= c->string_chars[id] == 1;
    if (bytes.size() == 1 && static_cast<unsigned char>(bytes[0]) < 0x80) {
      c->ascii_of[id] = static_cast<int8_t>(bytes[0]);
      auto& list = c->ascii_ids[static_cast<unsigned char>(bytes[0])];
      if (static_cast<int>(list.size()) < JsonTokenClasses::kMaxIdsPerChar) {
        list.push_back(id);
      }
    }
  }
  for (char d = '0'; d <= '9'; ++d) {
    if (c->ascii_ids[static_cast<unsigned char>(d)].empty()) {
      throw Error(ErrorCode::kUnsupported, std::string("structured output needs a token for the "
                                                       "single digit '") +
                                               d + "' (the vocabulary has none)");
    }
  }
  return c;
}

struct CacheEntry {
  std::weak_ptr<const Tokenizer> tok;
  int vocab = 0;
  std::vector<int32_t> end_ids;
  std::shared_ptr<const JsonTokenClasses> classes;
};

}  // namespace

std::shared_ptr<const JsonTokenClasses> json_token_classes(
    const std::shared_ptr<const Tokenizer>& tok, int vocab, const std::vector<int32_t>& end_ids) {
  if (!tok) {
    throw Error(ErrorCode::kUnsupported, "structured output needs the model's tokenizer");
  }
  static std::mutex mu;
  static std::vector<CacheEntry> cache;  // most recent last; a few models at most
  std::lock_guard<std::mutex> lock(mu);
  std::erase_if(cache, [](const CacheEntry& e) { return e.tok.expired(); });
  for (const CacheEntry& e : cache) {
    const bool same_tok = !e.tok.owner_before(tok) && !tok.owner_before(e.tok);
    if (same_tok && e.vocab == vocab && e.end_ids == end_ids) {
      return e.classes;
    }
  }
  auto classes = build(*tok, vocab, end_ids);
  if (cache.size() >= 4) {
    cache.erase(cache.begin());
  }
  cache.push_back({tok, vocab, end_ids, classes});
  return classes;
}

}  // namespace dlx
