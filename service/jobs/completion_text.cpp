#include "service/jobs/completion_text.h"

#include <algorithm>

namespace dlx {

CompletionText::CompletionText(const Tokenizer* tokenizer, const ModelConfig& config,
                               bool stop_at_eos, std::vector<std::string> stop)
    : config_(config),
      stop_at_eos_(stop_at_eos),
      stop_(tokenizer ? std::move(stop) : decltype(stop){}) {
  if (tokenizer) streamer_.emplace(*tokenizer, config);
}

void CompletionText::consume(std::span<const int32_t> final_ids, Delta& d) {
  const int32_t id = final_ids[pos_++];
  ids_.push_back(id);
  d.ids.push_back(id);
  if (stop_at_eos_ && config_.is_end_token(id)) {
    ended_ = true;
    return;
  }
  if (streamer_) {
    // One token at a time, so a stop string is found at the token that completes it.
    text_ += streamer_->update(final_ids.first(pos_));
    check_stop();
  }
}

void CompletionText::check_stop() {
  size_t best = std::string::npos;
  for (const auto& s : stop_) {
    const size_t from = checked_ >= s.size() ? checked_ - s.size() + 1 : 0;
    const size_t at = text_.find(s, from);
    if (at < best) best = at;
  }
  if (best != std::string::npos) {
    text_.resize(best);
    ended_ = by_string_ = true;
  }
  checked_ = text_.size();
}

// Bytes at the end of text_ that might begin a stop string: shown only once disproved.
size_t CompletionText::holdback() const {
  size_t keep = 0;
  for (const auto& s : stop_) {
    for (size_t k = std::min(s.size() - 1, text_.size()); k > keep; --k) {
      if (text_.compare(text_.size() - k, k, s, 0, k) == 0) {
        keep = k;
        break;
      }
    }
  }
  return keep;
}

void CompletionText::release(Delta& d) {
  const size_t safe = ended_ ? text_.size() : text_.size() - holdback();
  if (safe > emitted_) {
    d.text = text_.substr(emitted_, safe - emitted_);
    emitted_ = safe;
  }
}

CompletionText::Delta CompletionText::update(std::span<const int32_t> canvas, int32_t mask_id) {
  Delta d;
  while (!ended_ && pos_ < canvas.size() && canvas[pos_] != mask_id) consume(canvas, d);
  release(d);
  return d;
}

CompletionText::Delta CompletionText::finish(std::span<const int32_t> output_ids) {
  Delta d;
  while (!ended_ && pos_ < output_ids.size()) consume(output_ids, d);
  if (streamer_ && !by_string_) {  // bytes of an unfinished UTF-8 sequence, if any
    text_ += streamer_->finish(ids_);
    check_stop();
  }
  ended_ = true;
  release(d);
  return d;
}

}  // namespace dlx
