// Regex: a compiled PCRE2 pattern (UTF + UCP, JIT when available) used by Split
// pre-tokenizers, so the pattern in tokenizer.json runs exactly as written.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dlx {

class Regex {
 public:
  // Throws Error kInvalidModel naming the pattern and offset when it does not compile.
  explicit Regex(const std::string& pattern);

  // Appends [start, end) byte offsets of every non-empty, non-overlapping match in subject,
  // left to right. subject must be valid UTF-8 (callers sanitize input first; PCRE2's own
  // per-call check would make a scan over many matches quadratic).
  void find_all(std::string_view subject, std::vector<std::pair<size_t, size_t>>& out) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Code;
  std::string pattern_;
  std::shared_ptr<Code> code_;
};

}  // namespace dlx
