// libFuzzer target: tokenizer.json (engine/tokenizer/tokenizer_json + tokenizer): the SAX
// reader of vocab and merges, the normalizer / pre-tokenizer (its regexes come from the file) /
// post-processor / decoder components and the added tokens; then what every request does with
// a loaded tokenizer: encode (plain and with special tokens), decode, and the streaming decoder.
// Input: tokenizer.json, optionally "\0" tokenizer_config.json, "\0" text to encode.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/utf8.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

const char* const kTexts[] = {
    "Hello, world! It's 2024: 3.14159 apples\n\tand  spaces",
    "<|im_start|>user\nhi<|im_end|><|endoftext|>",
    "\xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80 caf\xc3\xa9 \xff\xfe bad utf-8",
};

void exercise(const dlx::Tokenizer& tok, std::string_view text) {
  for (const bool special : {false, true}) {
    const std::vector<int32_t> ids = tok.encode(text, special);
    for (int32_t id : ids) {
      if (id < 0 || static_cast<size_t>(id) >= tok.vocab_size()) __builtin_trap();
    }
    const std::string back = tok.decode(ids, /*skip_special_tokens=*/special);
    if (!dlx::utf8::is_valid(back)) __builtin_trap();
    dlx::IncrementalDecoder stream(tok, /*skip_special=*/special);
    std::string streamed;
    for (size_t i = 0; i < ids.size(); ++i) streamed += stream.push({&ids[i], 1});
    streamed += stream.flush();
    if (streamed != back) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& dir = dlx::fuzz::scratch();
  const auto parts = dlx::fuzz::split_parts(data, size, 3);
  dir.write("tokenizer.json", parts[0]);
  if (parts.size() > 1) {
    dir.write("tokenizer_config.json", parts[1]);
  } else {
    dir.remove("tokenizer_config.json");
  }
  try {
    const std::shared_ptr<dlx::Tokenizer> tok = dlx::Tokenizer::load(dir.path());
    for (const char* t : kTexts) exercise(*tok, t);
    if (parts.size() > 2) exercise(*tok, parts[2]);
    for (size_t id = 0; id < tok->vocab_size() && id < 4096; ++id) {
      (void)tok->id_to_token(static_cast<int32_t>(id));
    }
  } catch (const dlx::Error& e) {
    dlx::fuzz::expected(e);
  }
  return 0;
}
