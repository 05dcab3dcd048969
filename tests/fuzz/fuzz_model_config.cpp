// libFuzzer target: a model folder's config files -> ModelConfig (engine/model/model_config),
// then the family's default decoding built from it (generation_config values flow into it).
// The input is config.json, optionally followed by "\0" generation_config.json and
// "\0" tokenizer.json (its added_tokens give the mask and end-of-turn ids); a part that is
// absent is no file.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/decode/decode_params.h"
#include "engine/model/model_config.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& dir = dlx::fuzz::scratch();
  const auto parts = dlx::fuzz::split_parts(data, size, 3);
  const char* names[] = {"config.json", "generation_config.json", "tokenizer.json"};
  for (size_t i = 0; i < 3; ++i) {
    if (i < parts.size()) {
      dir.write(names[i], parts[i]);
    } else {
      dir.remove(names[i]);
    }
  }
  try {
    const dlx::ModelConfig c = dlx::load_model_config(dir.path());
    // What the loader and every request rely on once the config is accepted.
    if (c.hidden <= 0 || c.heads <= 0 || c.kv_heads <= 0 || c.head_dim <= 0 || c.vocab <= 0 ||
        c.heads % c.kv_heads != 0 || c.mask_id < 0 || c.mask_id >= c.vocab) {
      __builtin_trap();
    }
    for (int32_t id : c.eos_ids) {
      if (id < 0 || id >= c.vocab) __builtin_trap();
    }
    const dlx::DecodeParams p = dlx::default_decode_params(c);
    (void)dlx::to_json(p);
    try {
      dlx::validate(p, c, 1);
    } catch (const dlx::Error& e) {
      dlx::fuzz::expected(e);  // a model whose defaults do not fit it is refused per request
    }
  } catch (const dlx::Error& e) {
    dlx::fuzz::expected(e);
  }
  return 0;
}
