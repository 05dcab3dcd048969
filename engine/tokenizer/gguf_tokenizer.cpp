#include "engine/tokenizer/gguf_tokenizer.h"

#include "engine/tokenizer/bpe_model.h"
#include "engine/util/error.h"

namespace dlx {
namespace {

using json = nlohmann::json;

constexpr int64_t kTokenNormal = 1, kTokenControl = 3, kTokenUserDefined = 4;

// The split patterns of the pre-tokenizers llama.cpp names (its tokenizer.ggml.pre values).
constexpr const char* kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

[[noreturn]] void bad(const GgufFile& f, const std::string& msg,
                      ErrorCode code = ErrorCode::kInvalidModel) {
  throw Error(code, f.path() + ": " + msg, "model");
}

json byte_level(bool use_regex) {
  return {{"type", "ByteLevel"},
          {"add_prefix_space", false},
          {"trim_offsets", false},
          {"use_regex", use_regex}};
}

// tokenizer_config.json: special token texts, BOS/EOS insertion, the chat template.
json tokenizer_config(const GgufFile& f, const std::vector<std::string>* tokens) {
  json cfg = json::object();
  auto text_of = [&](const char* key, const char* field) {
    auto id = f.opt_int(key);
    if (!id || !tokens) return;
    if (*id < 0 || static_cast<size_t>(*id) >= tokens->size()) {
      bad(f, std::string(key) + " " + std::to_string(*id) + " is outside the " +
                 std::to_string(tokens->size()) + "-token vocabulary");
    }
    cfg[field] = (*tokens)[static_cast<size_t>(*id)];
  };
  text_of("tokenizer.ggml.bos_token_id", "bos_token");
  text_of("tokenizer.ggml.eos_token_id", "eos_token");
  text_of("tokenizer.ggml.padding_token_id", "pad_token");
  text_of("tokenizer.ggml.unknown_token_id", "unk_token");
  text_of("tokenizer.ggml.mask_token_id", "mask_token");
  cfg["add_bos_token"] = f.opt_bool("tokenizer.ggml.add_bos_token").value_or(false);
  cfg["add_eos_token"] = f.opt_bool("tokenizer.ggml.add_eos_token").value_or(false);
  if (auto t = f.opt_string("tokenizer.chat_template")) cfg["chat_template"] = *t;
  return cfg;
}

const GgufValue& array_of(const GgufFile& f, const char* key, GgufType elem) {
  const GgufValue* v = f.find(key);
  if (!v) bad(f, std::string("missing key '") + key + "'");
  if (v->type != GgufType::kArray || v->array_size() == 0 ||
      (elem == GgufType::kString) != (v->elem_type == GgufType::kString)) {
    bad(f, std::string("key '") + key + "' must be a non-empty array of " +
               (elem == GgufType::kString ? "strings" : "integers"));
  }
  return *v;
}

// The tokenizer.json that llama.cpp's keys describe.
json tokenizer_json_from_ggml(const GgufFile& f) {
  const std::string model = f.get_string("tokenizer.ggml.model");
  if (model != "gpt2") {
    bad(f,
        "tokenizer.ggml.model '" + model +
            "' is not supported (only byte-level BPE, \"gpt2\"); convert the Hugging Face "
            "folder with `diffulex convert`, which embeds its tokenizer.json",
        ErrorCode::kUnsupported);
  }
  const auto& tokens = array_of(f, "tokenizer.ggml.tokens", GgufType::kString).strings;
  if (static_cast<int64_t>(tokens.size()) > kMaxTokenIds) {  // as for tokenizer.json ids
    bad(f, "tokenizer.ggml.tokens has " + std::to_string(tokens.size()) +
               " tokens, more than the limit of " + std::to_string(kMaxTokenIds));
  }
  const GgufValue* types = f.find("tokenizer.ggml.token_type");
  if (types && (types->type != GgufType::kArray || types->ints.size() != tokens.size())) {
    bad(f, "tokenizer.ggml.token_type must be an integer array as long as tokenizer.ggml.tokens");
  }
  json vocab = json::object();
  json added = json::array();
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int64_t type = types ? types->ints[i] : kTokenNormal;
    if (type == kTokenControl || type == kTokenUserDefined) {
      added.push_back({{"id", i},
                       {"content", tokens[i]},
                       {"single_word", false},
                       {"lstrip", false},
                       {"rstrip", false},
                       {"normalized", false},
                       {"special", type == kTokenControl}});
    } else if (type == kTokenNormal) {
      vocab[tokens[i]] = i;  // unused / unknown / byte tokens are not BPE vocabulary
    }
  }
  json merges = json::array();
  if (f.find("tokenizer.ggml.merges")) {
    merges = array_of(f, "tokenizer.ggml.merges", GgufType::kString).strings;
  }
  const std::string pre = f.opt_string("tokenizer.ggml.pre").value_or("default");
  json j;
  j["version"] = "1.0";
  j["added_tokens"] = std::move(added);
  j["normalizer"] = nullptr;
  if (pre == "gpt2" || pre == "default") {
    j["pre_tokenizer"] = byte_level(true);
  } else if (const char* re = gguf_pre_tokenizer_regex(pre)) {
    j["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers", json::array({{{"type", "Split"},
                                                          {"pattern", {{"Regex", re}}},
                                                          {"behavior", "Isolated"},
                                                          {"invert", false}},
                                                         byte_level(false)})}};
    // Qwen2's Hugging Face tokenizer normalizes to NFC first (llama.cpp skips this step; it
    // only matters for text that is not already NFC).
    if (pre == "qwen2") j["normalizer"] = {{"type", "NFC"}};
  } else {
    bad(f,
        "tokenizer.ggml.pre '" + pre +
            "' is not a pre-tokenizer this build knows (qwen2, llama-bpe, gpt2); convert the "
            "Hugging Face folder with `diffulex convert`, which embeds its tokenizer.json",
        ErrorCode::kUnsupported);
  }
  j["post_processor"] = nullptr;
  j["decoder"] = byte_level(true);
  j["model"] = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"ignore_merges", false},
                {"vocab", std::move(vocab)},
                {"merges", std::move(merges)}};
  return j;
}

}  // namespace

const char* gguf_pre_tokenizer_regex(const std::string& pre) {
  if (pre == "qwen2") return kQwen2Regex;
  if (pre == "llama-bpe" || pre == "llama3") return kLlama3Regex;
  return nullptr;
}

bool gguf_has_tokenizer(const GgufFile& f) {
  return f.find("tokenizer.huggingface.json") || f.find("tokenizer.ggml.tokens");
}

bool gguf_has_chat_template(const GgufFile& f) {
  const GgufValue* t = f.find("tokenizer.chat_template");
  return gguf_has_tokenizer(f) && t && t->type == GgufType::kString && !t->s.empty();
}

std::shared_ptr<Tokenizer> load_gguf_tokenizer(const GgufFile& f) {
  const GgufValue* toks = f.find("tokenizer.ggml.tokens");
  const std::vector<std::string>* tokens =
      toks && toks->type == GgufType::kArray ? &toks->strings : nullptr;
  const json cfg = tokenizer_config(f, tokens);
  if (auto hf = f.opt_string("tokenizer.huggingface.json")) {
    return Tokenizer::from_json_text(*hf, cfg, f.path() + " (tokenizer.huggingface.json)");
  }
  return Tokenizer::from_json(tokenizer_json_from_ggml(f), cfg, f.path());
}

}  // namespace dlx
