// Canvas templates: a generation whose canvas is fixed text and holes instead of prompt + N
// masks (infill, structured output). Fixed tokens are never changed; holes are decoded by the
// one denoising loop with the usual decoding keys. This header is the contract between the
// loop (generate.cpp), the infill API and the structured-output compiler (json_schema_*).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace dlx {

// Which tokens may be committed at one position of a hole. Implementations must be
// thread-compatible (const methods only) and must keep every hole completable: whatever was
// committed so far, every still-masked position has at least one allowed token.
class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // Sets logits[t] = -infinity for every token t that must not be committed at offset `i` of
  // the hole, given its current content `hole` ([n] ids; `mask_id` where still masked).
  // `logits` is one row [V] of the model's raw logits (before temperature / top-k / top-p).
  virtual void restrict(int i, std::span<const int32_t> hole, int32_t mask_id,
                        std::span<float> logits) const = 0;
  // Whether `token` may be committed at offset `i` given `hole` (the same rule as restrict();
  // the loop re-checks each candidate against the commits made before it in the same step).
  virtual bool allowed(int i, std::span<const int32_t> hole, int32_t mask_id,
                       int32_t token) const = 0;
};

// One part of a template: fixed text, or a hole of min_tokens..max_tokens positions.
// min == max: exactly n tokens. min < max: a variable hole: the model may end it early with an
// end token at any offset >= min_tokens; the end token and everything after it in the hole are
// removed from the result (the hole's positions after it are filled with end tokens).
struct CanvasPart {
  std::string text;  // fixed text (when !is_hole)
  bool is_hole = false;
  int min_tokens = 0;
  int max_tokens = 0;
  std::shared_ptr<const TokenConstraint> constraint;  // null: any token
  std::string name;  // optional label (e.g. a JSON pointer for structured output)

  static CanvasPart fixed(std::string t) {
    CanvasPart p;
    p.text = std::move(t);
    return p;
  }
  static CanvasPart hole(int n) { return hole_range(n, n); }
  static CanvasPart hole_range(int min_n, int max_n) {
    CanvasPart p;
    p.is_hole = true;
    p.min_tokens = min_n;
    p.max_tokens = max_n;
    return p;
  }
};

struct CanvasTemplate {
  std::vector<CanvasPart> parts;
};

}  // namespace dlx
