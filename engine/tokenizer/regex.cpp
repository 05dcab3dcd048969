// PCRE2 wrapper. Match data is per thread (it only records the whole-match span), so one
// compiled pattern serves many threads at once.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "engine/tokenizer/regex.h"

#include <pcre2.h>

#include "engine/util/error.h"

namespace dlx {

struct Regex::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

namespace {

std::string pcre2_message(int err) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(err, buf, sizeof(buf));
  return reinterpret_cast<const char*>(buf);
}

pcre2_match_data* thread_match_data() {
  struct Holder {
    pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
    ~Holder() { pcre2_match_data_free(md); }
  };
  thread_local Holder h;
  if (!h.md) throw Error(ErrorCode::kInternal, "out of memory creating regex match data");
  return h.md;
}

}  // namespace

Regex::Regex(const std::string& pattern) : pattern_(pattern), code_(std::make_shared<Code>()) {
  int err = 0;
  PCRE2_SIZE off = 0;
  code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                              PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr);
  if (!code_->code) {
    throw Error(ErrorCode::kInvalidModel, "tokenizer.json: regex '" + pattern +
                                              "' does not compile at offset " +
                                              std::to_string(off) + ": " + pcre2_message(err));
  }
  // JIT is an optimization: without it (e.g. an unsupported CPU) the interpreter runs.
  pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE);
}

void Regex::find_all(std::string_view subject, std::vector<std::pair<size_t, size_t>>& out) const {
  pcre2_match_data* md = thread_match_data();
  const auto* s = reinterpret_cast<PCRE2_SPTR>(subject.data());
  const size_t n = subject.size();
  size_t pos = 0;
  while (pos <= n) {
    int rc = pcre2_match(code_->code, s, n, pos, PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
      // Deep backtracking on a huge input: the interpreter keeps its frames on the heap.
      rc = pcre2_match(code_->code, s, n, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, nullptr);
    }
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      throw Error(ErrorCode::kInternal, "regex '" + pattern_ + "' failed: " + pcre2_message(rc));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t start = ov[0], end = ov[1];
    if (end > start) {
      out.emplace_back(start, end);
      pos = end;
    } else {
      // Empty match: step over one character (they produce no piece).
      pos = end + 1;
      while (pos < n && (static_cast<unsigned char>(subject[pos]) & 0xC0) == 0x80) ++pos;
    }
  }
}

}  // namespace dlx
