// CompletionText: a running generation's output ids and text as they become final. A token is
// final once it and every position before it are committed (commits are never undone), so the
// output grows left to right although tokens are committed in any order. The text comes from
// the engine's TextStreamer (it ends at the first end token); this layer adds the ids (which
// follow stop_at_eos = false past end tokens) and OpenAI stop strings, holding back text that
// could be the start of one.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/decode/text_streamer.h"
#include "engine/model/model_config.h"
#include "engine/tokenizer/tokenizer.h"

namespace dlx {

class CompletionText {
 public:
  struct Delta {
    std::vector<int32_t> ids;  // newly final output ids
    std::string text;          // text now safe to show
  };

  // `tokenizer` may be null: ids are still tracked, there is no text and no stop strings.
  CompletionText(const Tokenizer* tokenizer, const ModelConfig& config, bool stop_at_eos,
                 std::vector<std::string> stop);

  // `canvas` is the generated region, `mask_id` where still masked.
  Delta update(std::span<const int32_t> canvas, int32_t mask_id);
  // End of generation with its final output ids: consumes the rest, releases held-back text.
  Delta finish(std::span<const int32_t> output_ids);

  bool ended() const { return ended_; }  // an end token or a stop string was reached
  bool stopped_by_string() const { return by_string_; }
  const std::string& text() const { return text_; }         // truncated at a stop string
  const std::vector<int32_t>& ids() const { return ids_; }  // consumed output ids

 private:
  void consume(std::span<const int32_t> final_ids, Delta& d);  // final_ids[pos_]
  void check_stop();
  void release(Delta& d);
  size_t holdback() const;

  const ModelConfig& config_;
  const bool stop_at_eos_;
  const std::vector<std::string> stop_;
  std::optional<TextStreamer> streamer_;
  std::vector<int32_t> ids_;
  std::string text_;
  size_t pos_ = 0;      // next canvas position to look at
  size_t checked_ = 0;  // text_ up to here was searched for stop strings
  size_t emitted_ = 0;  // text_ up to here was handed out
  bool ended_ = false, by_string_ = false;
};

}  // namespace dlx
