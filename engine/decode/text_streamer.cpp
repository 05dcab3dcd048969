#include "engine/decode/text_streamer.h"

namespace dlx {

TextStreamer::TextStreamer(const Tokenizer& tok, const ModelConfig& config)
    : decoder_(tok, /*skip_special=*/true), config_(config) {}

std::string TextStreamer::advance(std::span<const int32_t> ids, bool all_final) {
  if (ended_) return {};
  size_t end = emitted_;
  while (end < ids.size()) {
    if (!all_final && ids[end] == config_.mask_id) break;
    if (config_.is_end_token(ids[end])) {
      ended_ = true;
      break;
    }
    ++end;
  }
  std::string out = decoder_.push(ids.subspan(emitted_, end - emitted_));
  emitted_ = end;
  return out;
}

std::string TextStreamer::update(std::span<const int32_t> canvas) {
  return advance(canvas, /*all_final=*/false);
}

std::string TextStreamer::finish(std::span<const int32_t> output_ids) {
  std::string out = advance(output_ids, /*all_final=*/true);
  return out + decoder_.flush();
}

}  // namespace dlx
