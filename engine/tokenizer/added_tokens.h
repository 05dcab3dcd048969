// AddedTokens: the tokenizer.json "added_tokens" (special and not) and the matcher that finds
// them in text before any splitting, with Hugging Face's leftmost-longest semantics and the
// single_word / lstrip / rstrip options.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dlx {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;  // matched against normalized text (true) or raw text (false)
};

class AddedTokenMatcher {
 public:
  struct Segment {
    size_t begin, end;  // byte span in the text
    int32_t id;         // the added token's id, or -1 for plain text between tokens
  };

  void add(const AddedToken& t);
  bool empty() const { return tokens_.empty(); }

  // Appends the segments of text: matched tokens (whose span includes whitespace taken by
  // lstrip/rstrip) and the non-empty plain text between them.
  void split(std::string_view text, std::vector<Segment>& out) const;

 private:
  std::vector<AddedToken> tokens_;
  std::array<std::vector<uint32_t>, 256> by_first_byte_;  // indices into tokens_, longest first
};

}  // namespace dlx
