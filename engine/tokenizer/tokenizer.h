// Tokenizer: a Hugging Face tokenizer.json (BPE) with its tokenizer_config.json — encode, decode,
// special tokens and the chat template — plus the streaming IncrementalDecoder and
// render_chat(), the public API of engine/tokenizer/.
//
// Invalid UTF-8 in text given to encode() is not an error: every maximal invalid byte sequence
// is replaced with U+FFFD before tokenizing (Python's errors="replace"). decode() output is
// always valid UTF-8, invalid byte sequences likewise becoming U+FFFD.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/tokenizer/render_limits.h"
#include "engine/tokenizer/string_hash.h"
#include "engine/util/error.h"

namespace dlx {

class BpeModel;
class AddedTokenMatcher;
class Normalizer;
class PreTokenizer;
class PostProcessor;
namespace jinja {
class Template;
}

// tokenizer_config.json: special tokens (text and id; "" and -1 when unset or not in the
// vocabulary), whether encode(add_special_tokens) adds BOS/EOS, and the chat template.
struct TokenizerConfig {
  std::string bos_token, eos_token, pad_token, mask_token, unk_token;
  int32_t bos_token_id = -1, eos_token_id = -1, pad_token_id = -1, mask_token_id = -1,
          unk_token_id = -1;
  std::vector<std::string> additional_special_tokens;
  bool add_bos_token = false;
  bool add_eos_token = false;
  std::string chat_template;     // "" when the model has none
  int64_t model_max_length = 0;  // 0 when not given
};

class Tokenizer {
 public:
  // PATH is a tokenizer.json or a folder holding one. tokenizer_config.json (and, when that
  // has no chat_template, chat_template.jinja) is read from the same folder when present.
  // Throws Error kNotFound / kInvalidModel (malformed files) / kUnsupported (a component type
  // we do not implement, named in the message).
  static std::shared_ptr<Tokenizer> load(const std::string& path);
  // From the text of a tokenizer.json (e.g. a GGUF's tokenizer.huggingface.json) and a parsed
  // tokenizer_config.json (may be null). `where` names the source in messages.
  static std::shared_ptr<Tokenizer> from_json_text(std::string_view tokenizer_json,
                                                   const nlohmann::json& config_json,
                                                   const std::string& where,
                                                   bool parse_template = true);
  // From already-parsed files (config may be null). `where` names the source in messages.
  static std::shared_ptr<Tokenizer> from_json(const nlohmann::json& tokenizer_json,
                                              const nlohmann::json& config_json,
                                              const std::string& where);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Added tokens are matched first (so "<|im_end|>" in text is one id), then normalization,
  // pre-tokenization and BPE. add_special_tokens applies the post-processor, then BOS/EOS when
  // tokenizer_config.json asks for them and the post-processor did not add them. Thread-safe.
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = false) const;
  // Throws Error kInvalidArgument for an id outside the vocabulary.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  int32_t token_to_id(std::string_view token) const;  // -1 if absent
  std::string id_to_token(int32_t id) const;          // "" if absent
  bool is_special(int32_t id) const;
  size_t vocab_size() const;  // size of the id space: largest id (vocabulary or added) + 1
  const TokenizerConfig& config() const { return config_; }
  // The chat template, parsed once when the tokenizer loaded (a syntax error fails the load
  // with its line). Throws Error kInvalidArgument when the model has none, kUnsupported when
  // it uses a construct we do not implement (the tokenizer still loads: plain prompts work).
  const jinja::Template& chat_template() const;

  // Appends the bytes id decodes to (possibly part of a UTF-8 character); nothing for a
  // special token when skip_special. decode() is the U+FFFD-repaired concatenation of these.
  void append_token_bytes(int32_t id, bool skip_special, std::string& out) const;

 private:
  Tokenizer();
  static std::shared_ptr<Tokenizer> assemble(const nlohmann::json& tokenizer_json,
                                             std::unique_ptr<BpeModel> model,
                                             const nlohmann::json& config_json,
                                             const std::string& where);
  void encode_text(std::string_view text, std::vector<int32_t>& out) const;
  // Parses config_.chat_template (from `where`) into chat_template_ / chat_template_error_.
  void parse_chat_template(const std::string& where);

  std::unique_ptr<BpeModel> model_;
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<PostProcessor> post_processor_;
  std::unique_ptr<AddedTokenMatcher> raw_added_;         // added tokens with normalized=false
  std::unique_ptr<AddedTokenMatcher> normalized_added_;  // added tokens with normalized=true
  std::vector<std::string> added_content_;               // by id; non-empty for added tokens
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> added_ids_;
  std::vector<bool> special_;         // by id
  std::vector<std::string> decoded_;  // by id: the bytes each token decodes to
  size_t id_space_ = 0;
  bool raw_bytes_ = false;  // BPE maps bytes itself (the pre-tokenizer ends in plain ByteLevel)
  TokenizerConfig config_;
  std::unique_ptr<jinja::Template> chat_template_;
  std::optional<Error> chat_template_error_;  // why there is no chat_template_
};

// Streams text for ids that become final left to right: emits only complete UTF-8 and never
// splits a character across two chunks. Concatenating every push() and the final flush()
// gives exactly decode(all ids, skip_special).
class IncrementalDecoder {
 public:
  explicit IncrementalDecoder(const Tokenizer& tok, bool skip_special = true);
  std::string push(std::span<const int32_t> new_ids);
  // The held-back tail (an incomplete character becomes U+FFFD); the decoder is then empty.
  std::string flush();

 private:
  const Tokenizer& tok_;
  bool skip_special_;
  std::string pending_;  // bytes of an incomplete trailing character
};

// Renders the model's chat template (chat_template()) with Jinja2 semantics as
// transformers' apply_chat_template does: variables messages, add_generation_prompt, tools and
// documents (none), the special tokens (bos_token, eos_token, ...), then every key of
// extra_context (e.g. {"enable_thinking": false} or {"tools": [...]}). Object keys of an
// nlohmann::json come sorted; pass an ordered_json to keep their order (it shows in tojson).
// Throws Error kInvalidArgument when the model has no template, when messages is not a list of
// objects, or when the template raises; kUnsupported for constructs we do not implement.
// `limits` bounds the work (steps, output size) and may carry a deadline or cancel flag.
std::string render_chat(const Tokenizer& tok, const nlohmann::json& messages,
                        bool add_generation_prompt,
                        const nlohmann::json& extra_context = nlohmann::json::object(),
                        const jinja::RenderLimits& limits = {});
std::string render_chat(
    const Tokenizer& tok, const nlohmann::ordered_json& messages, bool add_generation_prompt,
    const nlohmann::ordered_json& extra_context = nlohmann::ordered_json::object(),
    const jinja::RenderLimits& limits = {});

}  // namespace dlx
