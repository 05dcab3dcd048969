// The tokenizer of a GGUF model. A file with tokenizer.huggingface.json (the GGUF key for the
// whole Hugging Face tokenizer.json; `diffulex convert` writes it) loads exactly that. Otherwise
// the llama.cpp keys are translated into the equivalent tokenizer.json: tokenizer.ggml.model
// "gpt2" (byte-level BPE) with tokens, token_type (control and user-defined tokens become added
// tokens), merges ("a b"), and tokenizer.ggml.pre naming the pre-tokenizer (qwen2, llama-bpe,
// gpt2). Special tokens, add_bos/add_eos and tokenizer.chat_template give tokenizer_config.json.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>

#include "engine/formats/gguf.h"
#include "engine/tokenizer/tokenizer.h"

namespace dlx {

bool gguf_has_tokenizer(const GgufFile& f);
bool gguf_has_chat_template(const GgufFile& f);
// Throws Error kUnsupported for a tokenizer model or pre-tokenizer we do not implement (named),
// kInvalidModel for inconsistent keys.
std::shared_ptr<Tokenizer> load_gguf_tokenizer(const GgufFile& f);

// The regex of a llama.cpp pre-tokenizer name, or nullptr when we do not know it.
const char* gguf_pre_tokenizer_regex(const std::string& pre);

}  // namespace dlx
