// The enum-value constraint (json_constraints.h): the choices that agree with every committed
// position stay in play; a position may take what one of them has there.
#include <algorithm>
#include <array>
#include <limits>

#include "engine/decode/json_constraints.h"
#include "engine/util/error.h"

namespace dlx {
namespace {

constexpr size_t kMaxChoices = 256;

class ChoiceConstraint final : public TokenConstraint {
 public:
  ChoiceConstraint(std::shared_ptr<const JsonTokenClasses> c, std::vector<std::vector<int32_t>> ch)
      : c_(std::move(c)), choices_(std::move(ch)) {}

  void restrict(int i, std::span<const int32_t> hole, int32_t mask_id,
                std::span<float> logits) const override {
    std::array<std::pair<int32_t, float>, kMaxChoices + JsonTokenClasses::kMaxEndIds> keep;
    size_t kept = 0;
    bool end_kept = false;
    for (const auto& s : choices_) {
      if (!agrees(s, i, hole, mask_id)) {
        continue;
      }
      if (i < static_cast<int>(s.size())) {
        keep[kept++] = {s[i], logits[s[i]]};
      } else if (!end_kept) {
        end_kept = true;
        for (int32_t e : c_->end_ids) {
          keep[kept++] = {e, logits[e]};
        }
      }
    }
    std::fill(logits.begin(), logits.end(), -std::numeric_limits<float>::infinity());
    for (size_t k = 0; k < kept; ++k) {
      logits[keep[k].first] = keep[k].second;
    }
  }

  bool allowed(int i, std::span<const int32_t> hole, int32_t mask_id,
               int32_t token) const override {
    for (const auto& s : choices_) {
      if (agrees(s, i, hole, mask_id) && matches(s, i, token)) {
        return true;
      }
    }
    return false;
  }

 private:
  bool matches(const std::vector<int32_t>& s, int j, int32_t t) const {
    return j < static_cast<int>(s.size()) ? s[j] == t : c_->is_end(t);
  }
  // Choice s agrees with every committed offset other than i.
  bool agrees(const std::vector<int32_t>& s, int i, std::span<const int32_t> hole,
              int32_t mask_id) const {
    for (int j = 0; j < static_cast<int>(hole.size()); ++j) {
      if (j != i && hole[j] != mask_id && !matches(s, j, hole[j])) {
        return false;
      }
    }
    return true;
  }

  std::shared_ptr<const JsonTokenClasses> c_;
  std::vector<std::vector<int32_t>> choices_;
};

}  // namespace

std::shared_ptr<const TokenConstraint> make_choice_constraint(
    std::shared_ptr<const JsonTokenClasses> classes, std::vector<std::vector<int32_t>> choices) {
  if (choices.empty() || choices.size() > kMaxChoices) {
    throw Error(ErrorCode::kInternal, "choice hole with no or too many choices");
  }
  for (const auto& s : choices) {
    if (s.empty()) {
      throw Error(ErrorCode::kInternal, "choice hole with an empty choice");
    }
  }
  return std::make_shared<ChoiceConstraint>(std::move(classes), std::move(choices));
}

}  // namespace dlx
