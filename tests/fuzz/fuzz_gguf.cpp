// libFuzzer target: a GGUF file (engine/formats/gguf) and everything read from its metadata
// before any weight is used: the header, the model config (engine/model/gguf_model), the
// weight views under their Hugging Face names (LLaDA's q/k un-permuted) and the tokenizer
// (engine/tokenizer/gguf_tokenizer). The input is the whole file. Seeds: the llama.cpp-made
// q4_0 fixtures (tests/fixtures/gguf).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/formats/gguf.h"
#include "engine/model/gguf_model.h"
#include "engine/tokenizer/gguf_tokenizer.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string path = dlx::fuzz::scratch().write("model.gguf", in);
  try {
    auto f = std::make_shared<const dlx::GgufFile>(path);
    // Every view must lie inside the mapping.
    for (const auto& t : f->tensors()) {
      if (t.offset + t.nbytes > f->file_size()) __builtin_trap();
      volatile uint8_t sink = 0;
      if (t.nbytes > 0) sink = sink + f->tensor_data(t)[0] + f->tensor_data(t)[t.nbytes - 1];
      (void)sink;
    }
    try {
      const dlx::ModelConfig c = dlx::gguf_model_config(*f);
      auto w = dlx::gguf_weight_source(f, c);
      (void)w->all().size();
    } catch (const dlx::Error& e) {
      dlx::fuzz::expected(e);
    }
    if (dlx::gguf_has_tokenizer(*f)) {
      auto tok = dlx::load_gguf_tokenizer(*f);
      (void)tok->encode("Hello, world! <|im_end|> 123");
    }
  } catch (const dlx::Error& e) {
    dlx::fuzz::expected(e);
  }
  return 0;
}
