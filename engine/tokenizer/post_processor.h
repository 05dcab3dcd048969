// PostProcessor: the tokenizer.json "post_processor", applied when encoding with
// add_special_tokens. Supported: null and ByteLevel (no change to ids), TemplateProcessing
// (the "single" template), BertProcessing / RobertaProcessing (cls A sep) and Sequence.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

namespace dlx {

class PostProcessor {
 public:
  static PostProcessor from_json(const nlohmann::json& j);

  // Wraps the ids of a single sequence with the special tokens of the template(s).
  void apply(std::vector<int32_t>& ids) const;
  // The largest special-token id the templates add (-1: none).
  int32_t max_id() const;

 private:
  void add(const nlohmann::json& j);
  // One template: pieces that are either special-token ids or the sequence itself (empty).
  struct Piece {
    bool sequence = false;
    std::vector<int32_t> ids;
  };
  std::vector<std::vector<Piece>> templates_;  // applied in order (Sequence)
};

}  // namespace dlx
