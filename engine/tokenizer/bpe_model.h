// BpeModel: the tokenizer.json "model" of type BPE — vocabulary, ranked merges, unknown-token,
// byte-fallback and ignore_merges options — turning one pre-token into ids, with a cache of
// recent words.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/tokenizer/string_index.h"
#include "engine/tokenizer/word_cache.h"

namespace dlx {

// Ids a tokenizer may use (vocabulary and added tokens): 8x the largest real vocabulary
// (262,144). Tables are indexed by id, so one huge id in a hostile file would otherwise
// allocate gigabytes.
inline constexpr int64_t kMaxTokenIds = int64_t{1} << 21;

class BpeModel {
 public:
  using Vocab = std::vector<std::pair<std::string, int64_t>>;       // token, id (file order)
  using Merges = std::vector<std::pair<std::string, std::string>>;  // left, right (rank order)

  // From the JSON value of "model". Throws Error kUnsupported for non-BPE models or dropout,
  // kInvalidModel for malformed vocab/merges (e.g. a merge whose parts are not in the vocab).
  static std::unique_ptr<BpeModel> from_json(const nlohmann::json& model);
  // The same from "model"'s options plus its vocab and merges read separately (the fast path
  // of Tokenizer::load, which never builds a JSON tree for them).
  static std::unique_ptr<BpeModel> build(const nlohmann::json& options, Vocab vocab,
                                         const Merges& merges);
  // "a b" -> {"a", "b"}; throws kInvalidModel unless exactly one space separates two parts.
  static std::pair<std::string, std::string> split_merge(const std::string& merge);

  // Appends the ids of one pre-token.
  void tokenize(std::string_view word, std::vector<int32_t>& out) const;
  // True when every byte has a single-character byte-level token and no subword prefix or
  // suffix decorates symbols: then tokenize_bytes() can skip the byte -> character mapping.
  bool supports_raw_bytes() const { return raw_bytes_ok_; }
  // Same ids as tokenize(byte_level::encode(word)), for a word of raw bytes.
  void tokenize_bytes(std::string_view word, std::vector<int32_t>& out) const;

  int32_t token_to_id(std::string_view token) const;  // -1 when absent
  // The token text of id, or nullptr when the vocabulary has no such id.
  const std::string* id_to_token(int32_t id) const;
  size_t id_space() const { return id_to_token_.size(); }  // max id + 1

 private:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  struct Symbol;  // one symbol of a word being merged (bpe_model.cpp)
  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  const Merge* find_merge(int32_t a, int32_t b) const {
    auto it = merges_.find(pair_key(a, b));
    return it == merges_.end() ? nullptr : &it->second;
  }
  template <bool kRawBytes>
  void tokenize_impl(std::string_view word, std::vector<int32_t>& out) const;
  void merge_word(std::string_view word, std::vector<int32_t>& out) const;
  void merge_bytes(std::string_view word, std::vector<int32_t>& out) const;
  void merge_symbols(std::vector<Symbol>& sym, std::vector<int32_t>& out) const;
  static std::vector<Symbol>& scratch_symbols();  // per thread, reused across words
  static void add_symbol(std::vector<Symbol>& sym, int32_t id, uint32_t len);
  int32_t char_id(std::string_view ch, char32_t cp, bool first, bool last) const;

  std::vector<std::string> id_to_token_;
  StringIndex vocab_;  // token -> id over id_to_token_
  std::vector<bool> has_id_;
  std::unordered_map<uint64_t, Merge> merges_;
  std::array<int32_t, 512> small_char_ids_{};  // id of each single code point < 512, or -1
  std::array<int32_t, 256> byte_ids_{};        // id of each byte's byte-level character
  bool raw_bytes_ok_ = false;
  int32_t unk_id_ = -1;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  std::string prefix_;  // continuing_subword_prefix
  std::string suffix_;  // end_of_word_suffix

  // Words seen recently -> their ids. Shared by all threads encoding with this model.
  mutable WordCache cache_;
};

}  // namespace dlx
