// The number-value constraint (json_constraints.h): one ASCII character per position, checked
// by asking whether any complete number agrees with the committed positions.
#include <algorithm>
#include <array>
#include <limits>
#include <string>

#include "engine/decode/json_constraints.h"
#include "engine/util/error.h"

namespace dlx {
namespace {

constexpr int kMaxChars = 24;
constexpr int8_t kMasked = -1;  // pattern codes besides ASCII characters
constexpr int8_t kEnd = -2;
constexpr int8_t kForeign = -3;  // a committed token that is neither a character nor an end

int64_t pow10(int d) {
  int64_t p = 1;
  for (int i = 0; i < d; ++i) {
    p *= 10;
  }
  return p;
}

class NumberConstraint final : public TokenConstraint {
 public:
  NumberConstraint(std::shared_ptr<const JsonTokenClasses> c, const NumberSpec& s)
      : c_(std::move(c)), spec_(s) {
    const std::string alphabet = s.integer ? "-0123456789" : "-0123456789.";
    for (char ch : alphabet) {
      if (!c_->ascii_ids[static_cast<unsigned char>(ch)].empty()) {
        chars_.push_back(ch);
      }
    }
  }

  void restrict(int i, std::span<const int32_t> hole, int32_t mask_id,
                std::span<float> logits) const override {
    if (i >= spec_.max_chars) {  // padding after the longest value: end tokens only
      keep_only_ends(logits);
      return;
    }
    Pattern p = pattern(hole, mask_id);
    // (id, logit) of every token kept; at most kMaxIdsPerChar per character plus the ends.
    std::array<std::pair<int32_t, float>,
               13 * JsonTokenClasses::kMaxIdsPerChar + JsonTokenClasses::kMaxEndIds>
        keep;
    size_t kept = 0;
    for (char ch : chars_) {
      p.code[i] = static_cast<int8_t>(ch);
      if (feasible(p)) {
        for (int32_t id : c_->ascii_ids[static_cast<unsigned char>(ch)]) {
          keep[kept++] = {id, logits[id]};
        }
      }
    }
    p.code[i] = kEnd;
    if (feasible(p)) {
      for (int32_t id : c_->end_ids) {
        keep[kept++] = {id, logits[id]};
      }
    }
    std::fill(logits.begin(), logits.end(), -std::numeric_limits<float>::infinity());
    for (size_t k = 0; k < kept; ++k) {
      logits[keep[k].first] = keep[k].second;
    }
  }

  bool allowed(int i, std::span<const int32_t> hole, int32_t mask_id,
               int32_t token) const override {
    if (i >= spec_.max_chars) {
      return c_->is_end(token);
    }
    Pattern p = pattern(hole, mask_id);
    p.code[i] = code_of(token);
    if (p.code[i] == kForeign) {
      return false;
    }
    if (p.code[i] != kEnd && std::find(chars_.begin(), chars_.end(), p.code[i]) == chars_.end()) {
      return false;
    }
    return feasible(p);
  }

 private:
  struct Pattern {
    std::array<int8_t, kMaxChars> code{};
    int n = 0;
  };

  void keep_only_ends(std::span<float> logits) const {
    std::array<float, JsonTokenClasses::kMaxEndIds> v{};
    for (size_t e = 0; e < c_->end_ids.size(); ++e) {
      v[e] = logits[c_->end_ids[e]];
    }
    std::fill(logits.begin(), logits.end(), -std::numeric_limits<float>::infinity());
    for (size_t e = 0; e < c_->end_ids.size(); ++e) {
      logits[c_->end_ids[e]] = v[e];
    }
  }

  int8_t code_of(int32_t t) const {
    if (c_->is_end(t)) {
      return kEnd;
    }
    if (t < 0 || t >= c_->vocab || c_->ascii_of[t] < 0) {
      return kForeign;
    }
    return c_->ascii_of[t];
  }

  Pattern pattern(std::span<const int32_t> hole, int32_t mask_id) const {
    // The hole may be longer than the longest value (block alignment pads it): the positions
    // after max_chars hold end tokens and never constrain the value.
    Pattern p;
    p.n = std::min(spec_.max_chars, static_cast<int>(hole.size()));
    for (int j = 0; j < p.n; ++j) {
      p.code[j] = hole[j] == mask_id ? kMasked : code_of(hole[j]);
    }
    return p;
  }

  bool may_be(int8_t code, char ch) const {
    return code == ch ||
           (code == kMasked && std::find(chars_.begin(), chars_.end(), ch) != chars_.end());
  }

  // Some value of k characters (then end tokens) agrees with the pattern.
  bool feasible(const Pattern& p) const {
    int last_value = -1, first_end = p.n;
    for (int j = 0; j < p.n; ++j) {
      if (p.code[j] == kForeign) {
        return false;
      }
      if (p.code[j] == kEnd) {
        first_end = std::min(first_end, j);
      } else if (p.code[j] != kMasked) {
        last_value = j;
      }
    }
    if (last_value > first_end) {
      return false;
    }
    for (int k = std::max(1, last_value + 1); k <= first_end; ++k) {
      if (spec_.integer ? integer_fits(p, k) : number_fits(p, k)) {
        return true;
      }
    }
    return false;
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)? over the first k codes: a DFA run on the set of states.
  bool number_fits(const Pattern& p, int k) const {
    // States: 0 start, 1 after '-', 2 after a leading 0, 3 integer digits, 4 after '.',
    // 5 fraction digits. Accepting: 2, 3, 5.
    unsigned states = 1u << 0;
    for (int j = 0; j < k && states; ++j) {
      unsigned next = 0;
      for (int s = 0; s < 6; ++s) {
        if (!(states >> s & 1u)) {
          continue;
        }
        auto step = [&](char ch, int to) {
          if (may_be(p.code[j], ch)) {
            next |= 1u << to;
          }
        };
        if (s == 0) {
          step('-', 1);
        }
        if (s == 0 || s == 1) {
          step('0', 2);
          for (char d = '1'; d <= '9'; ++d) {
            step(d, 3);
          }
        }
        if (s == 3 || s == 4 || s == 5) {
          for (char d = '0'; d <= '9'; ++d) {
            step(d, s == 3 ? 3 : 5);
          }
        }
        if (s == 2 || s == 3) {
          step('.', 4);
        }
      }
      states = next;
    }
    return (states & ((1u << 2) | (1u << 3) | (1u << 5))) != 0;
  }

  // An integer of exactly k characters in [lo, hi] agrees with the pattern.
  bool integer_fits(const Pattern& p, int k) const {
    // Non-negative: k digits, no leading zero unless the value is 0.
    if (spec_.hi >= 0 && k <= 18) {
      const int64_t a = std::max({spec_.lo, int64_t{0}, k == 1 ? 0 : pow10(k - 1)});
      const int64_t b = std::min(spec_.hi, pow10(k) - 1);
      if (a <= b && digits_fit(p, 0, k, a, b)) {
        return true;
      }
    }
    // Negative: '-' then k-1 digits of a magnitude in [max(1, -hi), -lo].
    if (spec_.lo < 0 && k >= 2 && k - 1 <= 18 && may_be(p.code[0], '-')) {
      const int d = k - 1;
      const int64_t a =
          std::max({int64_t{1}, -std::min(spec_.hi, int64_t{-1}), d == 1 ? 1 : pow10(d - 1)});
      const int64_t b = std::min(-spec_.lo, pow10(d) - 1);
      if (a <= b && digits_fit(p, 1, d, a, b)) {
        return true;
      }
    }
    return false;
  }

  // Some d-digit number in [a, b] (both d digits long) agrees with codes [from, from + d).
  bool digits_fit(const Pattern& p, int from, int d, int64_t a, int64_t b) const {
    std::array<int, 18> da{}, db{};
    for (int j = d - 1; j >= 0; --j) {
      da[j] = static_cast<int>(a % 10);
      db[j] = static_cast<int>(b % 10);
      a /= 10;
      b /= 10;
    }
    // States: bit (tight_low * 2 + tight_high): still equal to a's / b's prefix.
    unsigned states = 1u << 3;
    for (int j = 0; j < d && states; ++j) {
      unsigned next = 0;
      for (int s = 0; s < 4; ++s) {
        if (!(states >> s & 1u)) {
          continue;
        }
        const bool tl = s & 2, th = s & 1;
        for (int dig = tl ? da[j] : 0; dig <= (th ? db[j] : 9); ++dig) {
          if (may_be(p.code[from + j], static_cast<char>('0' + dig))) {
            next |= 1u << ((tl && dig == da[j]) * 2 + (th && dig == db[j]));
          }
        }
      }
      states = next;
    }
    return states != 0;
  }

  std::shared_ptr<const JsonTokenClasses> c_;
  NumberSpec spec_;
  std::vector<char> chars_;  // the alphabet characters the vocabulary has a token for
};

}  // namespace

std::shared_ptr<const TokenConstraint> make_number_constraint(
    std::shared_ptr<const JsonTokenClasses> classes, const NumberSpec& spec) {
  if (spec.max_chars < 1 || spec.max_chars > kMaxChars || (spec.integer && spec.lo > spec.hi)) {
    throw Error(ErrorCode::kInternal, "number hole with inconsistent limits");
  }
  return std::make_shared<NumberConstraint>(std::move(classes), spec);
}

}  // namespace dlx
