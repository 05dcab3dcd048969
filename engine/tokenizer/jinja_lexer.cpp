// Template lexer. Mirrors Jinja2's lexer: text runs until "{{", "{%" or "{#"; a "-" after the
// opening strips preceding whitespace, before the closing strips following whitespace;
// lstrip_blocks removes the indentation before a block or comment tag that starts a line;
// trim_blocks removes the newline right after a block or comment tag.
#include "engine/tokenizer/jinja_lexer.h"

#include <cctype>

#include "engine/tokenizer/utf8.h"
#include "engine/util/error.h"

namespace dlx::jinja {
namespace {

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

class Lexer {
 public:
  explicit Lexer(std::string src) : src_(std::move(src)) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      const size_t t = find_tag(pos_);
      if (t == std::string::npos) {
        data(src_.substr(pos_));
        pos_ = src_.size();
        break;
      }
      const char kind = src_[t + 1];  // '{', '%' or '#'
      const char mod = t + 2 < src_.size() ? src_[t + 2] : '\0';
      std::string text = src_.substr(pos_, t - pos_);
      if (mod == '-') {
        while (!text.empty() && is_ws(text.back())) text.pop_back();
      } else if (mod != '+' && kind != '{') {
        // lstrip_blocks: drop spaces/tabs between the line start and the tag.
        const size_t nl = text.rfind('\n');
        const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
        if ((l_pos > 0 || line_starting_) && l_pos < text.size()) {
          bool only_ws = true;
          for (size_t k = l_pos; k < text.size(); ++k) only_ws = only_ws && is_ws(text[k]);
          if (only_ws) text.resize(l_pos);
        }
      }
      data(text);
      advance_to(t);
      size_t p = t + 2;
      if (mod == '-' || (mod == '+' && kind != '{')) ++p;
      if (kind == '#') {
        comment(p);
      } else if (kind == '%' && raw(p)) {
        // handled
      } else {
        tag(kind == '%', p);
      }
    }
    out_.push_back(Token{Token::Type::kEof, "", 0, 0, line_});
    return std::move(out_);
  }

 private:
  [[noreturn]] void fail(const std::string& msg) const {
    throw Error(ErrorCode::kInvalidModel,
                "chat template line " + std::to_string(line_) + ": " + msg);
  }

  size_t find_tag(size_t from) const {
    for (size_t k = src_.find('{', from); k != std::string::npos; k = src_.find('{', k + 1)) {
      if (k + 1 < src_.size() && (src_[k + 1] == '{' || src_[k + 1] == '%' || src_[k + 1] == '#'))
        return k;
    }
    return std::string::npos;
  }

  void advance_to(size_t p) {
    for (size_t k = pos_; k < p; ++k) line_ += src_[k] == '\n';
    pos_ = p;
  }

  void data(const std::string& text) {
    if (!text.empty()) out_.push_back(Token{Token::Type::kData, text, 0, 0, line_});
  }

  // After a closing "-%}" / "%}" / "+%}" (or "}}"), apply the whitespace rules.
  void after_tag(size_t p, char mod, bool block_like) {
    advance_to(p);
    if (mod == '-') {
      size_t q = pos_;
      while (q < src_.size() && is_ws(src_[q])) ++q;
      advance_to(q);
    } else if (mod != '+' && block_like && pos_ < src_.size() && src_[pos_] == '\n') {
      advance_to(pos_ + 1);  // trim_blocks
    }
    line_starting_ = pos_ > 0 && src_[pos_ - 1] == '\n';
  }

  void comment(size_t p) {
    const size_t e = src_.find("#}", p);
    if (e == std::string::npos) fail("unclosed comment");
    const char mod = e > p ? src_[e - 1] : '\0';
    after_tag(e + 2, mod, true);
  }

  // {% raw %}...{% endraw %}: the body is data, untouched.
  bool raw(size_t p) {
    size_t q = p;
    while (q < src_.size() && is_ws(src_[q])) ++q;
    if (src_.compare(q, 3, "raw") != 0) return false;
    q += 3;
    if (q < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[q])) || src_[q] == '_'))
      return false;
    while (q < src_.size() && is_ws(src_[q])) ++q;
    bool strip_body_start = false;
    if (q < src_.size() && src_[q] == '-') {
      strip_body_start = true;
      ++q;
    }
    if (src_.compare(q, 2, "%}") != 0) fail("expected '%}' after 'raw'");
    q += 2;
    if (strip_body_start) {
      while (q < src_.size() && is_ws(src_[q])) ++q;
    }
    // Find {%[-+]? endraw [-+]?%}.
    for (size_t s = src_.find("{%", q); s != std::string::npos; s = src_.find("{%", s + 2)) {
      size_t r = s + 2;
      const char open_mod = r < src_.size() ? src_[r] : '\0';
      if (open_mod == '-' || open_mod == '+') ++r;
      while (r < src_.size() && is_ws(src_[r])) ++r;
      if (src_.compare(r, 6, "endraw") != 0) continue;
      r += 6;
      while (r < src_.size() && is_ws(src_[r])) ++r;
      char close_mod = '\0';
      if (r < src_.size() && (src_[r] == '-' || src_[r] == '+')) close_mod = src_[r++];
      if (src_.compare(r, 2, "%}") != 0) continue;
      std::string body = src_.substr(q, s - q);
      if (open_mod == '-') {
        while (!body.empty() && is_ws(body.back())) body.pop_back();
      }
      data(body);
      after_tag(r + 2, close_mod, true);
      return true;
    }
    fail("unclosed {% raw %} block");
  }

  void tag(bool block, size_t p) {
    out_.push_back(
        Token{block ? Token::Type::kBlockBegin : Token::Type::kVarBegin, "", 0, 0, line_});
    advance_to(p);
    int depth = 0;
    const std::string close = block ? "%}" : "}}";
    while (true) {
      while (pos_ < src_.size() && is_ws(src_[pos_])) advance_to(pos_ + 1);
      if (pos_ >= src_.size())
        fail(std::string("unexpected end of template, expected '") + close + "'");
      if (depth == 0) {
        char mod = '\0';
        size_t q = pos_;
        if (src_[q] == '-' || (block && src_[q] == '+')) mod = src_[q++];
        if (src_.compare(q, 2, close) == 0) {
          out_.push_back(
              Token{block ? Token::Type::kBlockEnd : Token::Type::kVarEnd, "", 0, 0, line_});
          after_tag(q + 2, mod, block);
          return;
        }
      }
      const char c = src_[pos_];
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t q = pos_;
        while (q < src_.size() &&
               (std::isalnum(static_cast<unsigned char>(src_[q])) || src_[q] == '_'))
          ++q;
        out_.push_back(Token{Token::Type::kName, src_.substr(pos_, q - pos_), 0, 0, line_});
        advance_to(q);
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        number();
      } else if (c == '\'' || c == '"') {
        string_literal(c);
      } else {
        op(depth);
      }
    }
  }

  void number() {
    size_t q = pos_;
    std::string digits;
    auto run_digits = [&] {
      while (q < src_.size() &&
             (std::isdigit(static_cast<unsigned char>(src_[q])) || src_[q] == '_')) {
        if (src_[q] != '_') digits.push_back(src_[q]);
        ++q;
      }
    };
    run_digits();
    bool is_float = false;
    if (q + 1 < src_.size() && src_[q] == '.' &&
        std::isdigit(static_cast<unsigned char>(src_[q + 1]))) {
      is_float = true;
      digits.push_back('.');
      ++q;
      run_digits();
    }
    if (q < src_.size() && (src_[q] == 'e' || src_[q] == 'E')) {
      size_t r = q + 1;
      if (r < src_.size() && (src_[r] == '+' || src_[r] == '-')) ++r;
      if (r < src_.size() && std::isdigit(static_cast<unsigned char>(src_[r]))) {
        is_float = true;
        digits.append(src_, q, r - q);
        q = r;
        run_digits();
      }
    }
    Token t{is_float ? Token::Type::kFloat : Token::Type::kInt, digits, 0, 0, line_};
    try {
      if (is_float)
        t.f = std::stod(digits);
      else
        t.i = std::stoll(digits);
    } catch (const std::exception&) {
      fail("number '" + digits + "' is out of range");
    }
    out_.push_back(t);
    advance_to(q);
  }

  // Python string literal with unicode-escape decoding (\n, \t, \xhh, \uXXXX, ...); unknown
  // escapes keep their backslash, as Python does.
  void string_literal(char quote) {
    size_t q = pos_ + 1;
    std::string v;
    while (true) {
      if (q >= src_.size()) fail("unterminated string literal");
      const char c = src_[q];
      if (c == quote) break;
      if (c != '\\') {
        v.push_back(c);
        ++q;
        continue;
      }
      if (q + 1 >= src_.size()) fail("unterminated string literal");
      const char e = src_[q + 1];
      q += 2;
      auto hex = [&](int n) {
        if (q + static_cast<size_t>(n) > src_.size())
          fail("truncated \\x/\\u escape in string literal");
        char32_t cp = 0;
        for (int k = 0; k < n; ++k) {
          const char h = src_[q + static_cast<size_t>(k)];
          if (!std::isxdigit(static_cast<unsigned char>(h)))
            fail("bad \\x/\\u escape in string literal");
          cp = cp * 16 + static_cast<char32_t>(std::isdigit(static_cast<unsigned char>(h))
                                                   ? h - '0'
                                                   : (std::tolower(h) - 'a' + 10));
        }
        q += static_cast<size_t>(n);
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
          fail("escape is not a Unicode scalar value");
        utf8::append(v, cp);
      };
      switch (e) {
        case '\n':
          break;  // line continuation
        case '\\':
          v.push_back('\\');
          break;
        case '\'':
          v.push_back('\'');
          break;
        case '"':
          v.push_back('"');
          break;
        case 'a':
          v.push_back('\a');
          break;
        case 'b':
          v.push_back('\b');
          break;
        case 'f':
          v.push_back('\f');
          break;
        case 'n':
          v.push_back('\n');
          break;
        case 'r':
          v.push_back('\r');
          break;
        case 't':
          v.push_back('\t');
          break;
        case 'v':
          v.push_back('\v');
          break;
        case 'x':
          hex(2);
          break;
        case 'u':
          hex(4);
          break;
        case 'U':
          hex(8);
          break;
        case 'N':
          fail("\\N{...} escapes are not supported");
        default:
          if (e >= '0' && e <= '7') {
            char32_t cp = static_cast<char32_t>(e - '0');
            for (int k = 0; k < 2 && q < src_.size() && src_[q] >= '0' && src_[q] <= '7'; ++k) {
              cp = cp * 8 + static_cast<char32_t>(src_[q++] - '0');
            }
            utf8::append(v, cp);
          } else {
            v.push_back('\\');
            v.push_back(e);
          }
      }
    }
    out_.push_back(Token{Token::Type::kString, v, 0, 0, line_});
    advance_to(q + 1);
  }

  void op(int& depth) {
    static const char* kOps[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "/",
                                 "*",  "%",  "~",  "[",  "]",  "(",  ")", "{", "}",
                                 "<",  ">",  "=",  ".",  ":",  "|",  ",", ";"};
    for (const char* o : kOps) {
      const size_t n = std::char_traits<char>::length(o);
      if (src_.compare(pos_, n, o) == 0) {
        if (n == 1 && (o[0] == '(' || o[0] == '[' || o[0] == '{')) ++depth;
        if (n == 1 && (o[0] == ')' || o[0] == ']' || o[0] == '}')) {
          if (depth == 0) fail(std::string("unexpected '") + o + "'");
          --depth;
        }
        out_.push_back(Token{Token::Type::kOp, o, 0, 0, line_});
        advance_to(pos_ + n);
        return;
      }
    }
    fail(std::string("unexpected character '") + src_[pos_] + "'");
  }

  std::string src_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  std::vector<Token> out_;
};

}  // namespace

std::vector<Token> lex(std::string_view source) {
  // Newlines: \r\n and \r become \n; one trailing newline is dropped.
  std::string src;
  src.reserve(source.size());
  for (size_t k = 0; k < source.size(); ++k) {
    if (source[k] == '\r') {
      src.push_back('\n');
      if (k + 1 < source.size() && source[k + 1] == '\n') ++k;
    } else {
      src.push_back(source[k]);
    }
  }
  if (!src.empty() && src.back() == '\n') src.pop_back();
  return Lexer(std::move(src)).run();
}

}  // namespace dlx::jinja
