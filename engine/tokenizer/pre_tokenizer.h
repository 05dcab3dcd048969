// PreTokenizer: the tokenizer.json "pre_tokenizer" component, splitting normalized text into
// the words BPE runs on. Supported: null, Split (Regex or String pattern, every behavior,
// invert), ByteLevel (add_prefix_space, use_regex) and Sequence of these.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/tokenizer/regex.h"

namespace dlx {

// Pre-tokens as [start, end) byte spans of `text` (no per-piece allocation).
struct Pieces {
  std::string text;
  std::vector<std::pair<uint32_t, uint32_t>> spans;
  std::string_view piece(size_t i) const {
    return std::string_view(text).substr(spans[i].first, spans[i].second - spans[i].first);
  }
};

class PreTokenizer {
 public:
  // From the JSON value of "pre_tokenizer" (null allowed: the whole text is one word).
  static PreTokenizer from_json(const nlohmann::json& j);

  // Splits valid UTF-8 `in` into pre-tokens, replacing out's contents. `scratch` is reused
  // between calls to avoid allocations. With skip_final_byte_level, a final plain ByteLevel
  // step (see below) is left out and the pieces stay raw bytes.
  void run(std::string_view in, Pieces& out, Pieces& scratch,
           bool skip_final_byte_level = false) const;

  // True when the last step is ByteLevel without prefix space or regex: a pure byte ->
  // character mapping that BPE can fold into its first step.
  bool ends_with_plain_byte_level() const;

 private:
  enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };
  struct Step {
    enum class Kind { kSplit, kByteLevel } kind;
    std::shared_ptr<Regex> regex;  // Split pattern, or the GPT-2 regex of ByteLevel use_regex
    Behavior behavior = Behavior::kIsolated;
    bool invert = false;
    bool add_prefix_space = false;
  };
  void add(const nlohmann::json& j);
  static void split(const Step& s, const Pieces& in, Pieces& out);
  static void byte_level(const Step& s, const Pieces& in, Pieces& out);

  std::vector<Step> steps_;
};

}  // namespace dlx
