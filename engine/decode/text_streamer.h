// TextStreamer: turns the denoising canvas into streamed text. A position's token is final
// once it and every position before it are decoded (tokens never change after commit), so
// the streamer emits the text of that growing left-to-right prefix, stopping before the first
// end token, and never splits a UTF-8 character.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "engine/model/model_config.h"
#include "engine/tokenizer/tokenizer.h"

namespace dlx {

class TextStreamer {
 public:
  TextStreamer(const Tokenizer& tok, const ModelConfig& config);
  // The generated region after a step (mask id where masked); returns new final text.
  std::string update(std::span<const int32_t> canvas);
  // The final output ids; returns the text not yet emitted (end tokens excluded).
  std::string finish(std::span<const int32_t> output_ids);
  bool ended() const { return ended_; }

 private:
  std::string advance(std::span<const int32_t> ids, bool all_final);

  IncrementalDecoder decoder_;
  const ModelConfig& config_;
  size_t emitted_ = 0;  // positions already pushed to the decoder
  bool ended_ = false;  // an end token was reached
};

}  // namespace dlx
