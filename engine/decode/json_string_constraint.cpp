// The string-value constraint (json_constraints.h).
#include <algorithm>
#include <array>
#include <limits>

#include "engine/decode/json_constraints.h"
#include "engine/util/error.h"

namespace dlx {
namespace {

class StringConstraint final : public TokenConstraint {
 public:
  StringConstraint(std::shared_ptr<const JsonTokenClasses> c, int min_tokens,
                   std::optional<int> max_chars)
      : c_(std::move(c)), min_(min_tokens), max_chars_(max_chars) {}

  void restrict(int i, std::span<const int32_t> hole, int32_t mask_id,
                std::span<float> logits) const override {
    const Rules r = rules(i, hole, mask_id);
    constexpr float kNeg = -std::numeric_limits<float>::infinity();
    std::array<float, JsonTokenClasses::kMaxEndIds> end_logits{};
    for (size_t e = 0; e < c_->end_ids.size(); ++e) {
      end_logits[e] = logits[c_->end_ids[e]];
    }
    const int budget = r.value_ok ? r.char_budget : 0;
    const uint8_t* chars = c_->string_chars.data();
    const size_t v = std::min<size_t>(logits.size(), c_->string_chars.size());
    for (size_t t = 0; t < v; ++t) {
      if (chars[t] == 0 || chars[t] > budget) {
        logits[t] = kNeg;
      }
    }
    for (size_t t = v; t < logits.size(); ++t) {
      logits[t] = kNeg;
    }
    if (r.end_ok) {
      for (size_t e = 0; e < c_->end_ids.size(); ++e) {
        logits[c_->end_ids[e]] = end_logits[e];
      }
    }
  }

  bool allowed(int i, std::span<const int32_t> hole, int32_t mask_id,
               int32_t token) const override {
    if (token < 0 || token >= c_->vocab) {
      return false;
    }
    const Rules r = rules(i, hole, mask_id);
    if (c_->is_end(token)) {
      return r.end_ok;
    }
    const int chars = c_->string_chars[token];
    return r.value_ok && chars > 0 && chars <= r.char_budget;
  }

 private:
  struct Rules {
    bool end_ok = false;    // an end token may go at offset i
    bool value_ok = false;  // a string token may go at offset i ...
    int char_budget = 0;    // ... of at most this many code points
  };

  // With L the last committed value token and E the first committed end token, the value ends
  // at some k in [max(min, L+1), E]: masked offsets below max(min, L+1) must become value tokens
  // (each at least one code point), masked offsets above E end tokens.
  // The hole may be longer than max_tokens (block alignment pads it): it is its length that
  // counts; max_chars stays the limit.
  Rules rules(int i, std::span<const int32_t> hole, int32_t mask_id) const {
    const int n = static_cast<int>(hole.size());
    int last_value = -1, first_end = n, committed_chars = 0;
    for (int j = 0; j < n; ++j) {
      const int32_t t = hole[j];
      if (t == mask_id || j == i) {
        continue;
      }
      if (c_->is_end(t)) {
        first_end = std::min(first_end, j);
      } else {
        last_value = j;
        committed_chars += t >= 0 && t < c_->vocab ? std::max<int>(c_->string_chars[t], 1) : 1;
      }
    }
    Rules r;
    r.end_ok = i >= min_ && i > last_value;
    r.value_ok = i < first_end;
    if (r.value_ok) {
      // Masked offsets (other than i) that must hold a value once i does.
      const int forced_below = std::max({min_, last_value + 1, i + 1});
      int forced = 0;
      for (int j = 0; j < forced_below && j < n; ++j) {
        forced += j != i && hole[j] == mask_id;
      }
      r.char_budget = max_chars_ ? *max_chars_ - committed_chars - forced : 255;
      r.char_budget = std::min(r.char_budget, 255);
    }
    return r;
  }

  std::shared_ptr<const JsonTokenClasses> c_;
  int min_;
  std::optional<int> max_chars_;
};

}  // namespace

std::shared_ptr<const TokenConstraint> make_string_constraint(
    std::shared_ptr<const JsonTokenClasses> classes, int min_tokens, int max_tokens,
    std::optional<int> max_chars) {
  if (!classes->has_single_char_string_token) {
    throw Error(ErrorCode::kUnsupported,
                "structured output strings need a one-character token (the vocabulary has none)");
  }
  if (min_tokens < 0 || max_tokens < min_tokens || (max_chars && *max_chars < min_tokens)) {
    throw Error(ErrorCode::kInternal, "string hole with inconsistent lengths");
  }
  return std::make_shared<StringConstraint>(std::move(classes), min_tokens, max_chars);
}

}  // namespace dlx
