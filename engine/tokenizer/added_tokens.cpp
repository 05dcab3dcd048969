// Added-token matching. At each position the longest token starting there wins and the scan
// resumes after it (aho-corasick LeftmostLongest, non-overlapping, as Hugging Face uses).
#include "engine/tokenizer/added_tokens.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstring>

#include "engine/tokenizer/utf8.h"

namespace dlx {
namespace {

// Unicode White_Space (Rust's char::is_whitespace).
bool is_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

bool is_alnum(char32_t c) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

// Start of the code point that ends at byte `end` (exclusive).
size_t prev_start(std::string_view s, size_t end) {
  size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

char32_t cp_at(std::string_view s, size_t i) {
  return utf8::next(s, i);
}

}  // namespace

void AddedTokenMatcher::add(const AddedToken& t) {
  if (t.content.empty()) return;
  tokens_.push_back(t);
  auto& bucket = by_first_byte_[static_cast<unsigned char>(t.content[0])];
  bucket.push_back(static_cast<uint32_t>(tokens_.size() - 1));
  std::stable_sort(bucket.begin(), bucket.end(), [&](uint32_t a, uint32_t b) {
    return tokens_[a].content.size() > tokens_[b].content.size();
  });
}

void AddedTokenMatcher::split(std::string_view text, std::vector<Segment>& out) const {
  size_t emitted = 0;  // end of the last emitted segment
  size_t pos = 0;
  const size_t n = text.size();
  while (pos < n) {
    const auto& bucket = by_first_byte_[static_cast<unsigned char>(text[pos])];
    const AddedToken* hit = nullptr;
    for (uint32_t idx : bucket) {
      const std::string& c = tokens_[idx].content;
      if (c.size() <= n - pos && std::memcmp(text.data() + pos, c.data(), c.size()) == 0) {
        hit = &tokens_[idx];
        break;
      }
    }
    if (!hit) {
      ++pos;
      continue;
    }
    size_t start = pos, stop = pos + hit->content.size();
    pos = stop;                     // non-overlapping: the next search starts after this match
    if (start < emitted) continue;  // inside whitespace an earlier rstrip took
    if (hit->single_word) {
      const bool left_ok = start == 0 || !is_alnum(cp_at(text, prev_start(text, start)));
      const bool right_ok = stop == n || !is_alnum(cp_at(text, stop));
      if (!left_ok || !right_ok) continue;
    }
    if (hit->lstrip) {
      while (start > emitted) {
        const size_t p = prev_start(text, start);
        if (!is_space(cp_at(text, p))) break;
        start = p;
      }
    }
    if (hit->rstrip) {
      while (stop < n) {
        size_t q = stop;
        if (!is_space(utf8::next(text, q))) break;
        stop = q;
      }
      pos = stop;
    }
    if (emitted < start) out.push_back(Segment{emitted, start, -1});
    out.push_back(Segment{start, stop, hit->id});
    emitted = stop;
  }
  if (emitted < n) out.push_back(Segment{emitted, n, -1});
}

}  // namespace dlx
