// Recursive-descent parser following jinja2/parser.py: statements (for, if, set, macro,
// break/continue, generation) and expressions from conditional down to primary.
#include "engine/tokenizer/jinja_parser.h"

#include <algorithm>
#include <initializer_list>

#include "engine/tokenizer/jinja_builtins.h"
#include "engine/tokenizer/jinja_lexer.h"
#include "engine/util/error.h"

namespace dlx::jinja {
namespace {

using T = Token::Type;

// Deepest nesting of expressions (parentheses, calls, operator and filter chains) and of
// statement blocks; deeper templates are refused so neither parsing nor rendering can
// overflow the stack.
constexpr int kMaxNesting = 256;

class Parser {
 public:
  explicit Parser(std::vector<Token> toks) : toks_(std::move(toks)) {}

  Body parse_template() {
    std::string end;
    return parse_body({}, &end);
  }

 private:
  const Token& cur() const { return toks_[pos_]; }
  const Token& peek(size_t n = 1) const { return toks_[std::min(pos_ + n, toks_.size() - 1)]; }
  Token next() { return toks_[pos_ < toks_.size() - 1 ? pos_++ : pos_]; }
  bool is_op(const char* o) const { return cur().type == T::kOp && cur().text == o; }
  bool is_name(const char* n) const { return cur().type == T::kName && cur().text == n; }
  bool skip_op(const char* o) {
    if (!is_op(o)) return false;
    ++pos_;
    return true;
  }
  bool skip_name(const char* n) {
    if (!is_name(n)) return false;
    ++pos_;
    return true;
  }

  [[noreturn]] void fail(const std::string& msg, ErrorCode code = ErrorCode::kInvalidModel) const {
    throw Error(code, "chat template line " + std::to_string(cur().line) + ": " + msg);
  }
  [[noreturn]] void unsupported(const std::string& what) const {
    fail(what + " is not supported", ErrorCode::kUnsupported);
  }
  std::string describe(const Token& t) const {
    switch (t.type) {
      case T::kEof:
        return "end of template";
      case T::kBlockEnd:
        return "'%}'";
      case T::kVarEnd:
        return "'}}'";
      case T::kData:
        return "text";
      case T::kString:
        return "string";
      default:
        return "'" + t.text + "'";
    }
  }
  void expect_op(const char* o) {
    if (!skip_op(o)) fail(std::string("expected '") + o + "', got " + describe(cur()));
  }
  std::string expect_name() {
    if (cur().type != T::kName) fail("expected a name, got " + describe(cur()));
    return next().text;
  }
  void expect_block_end() {
    if (cur().type != T::kBlockEnd) fail("expected '%}', got " + describe(cur()));
    ++pos_;
  }

  // Counts one level of recursion for the lifetime of the guard.
  struct Depth {
    Parser& p;
    explicit Depth(Parser& parser) : p(parser) {
      if (++p.depth_ > kMaxNesting) p.too_deep();
    }
    ~Depth() { --p.depth_; }
    Depth(const Depth&) = delete;
    Depth& operator=(const Depth&) = delete;
  };
  [[noreturn]] void too_deep() const { fail("nesting deeper than " + std::to_string(kMaxNesting)); }
  // Records e's tree height; chains built in loops (a|f|g, a+b+c) are bounded here.
  ExprPtr seal(ExprPtr e) {
    int h = 0;
    for (const auto& a : e->args)
      if (a) h = std::max(h, a->height);
    for (const auto& [k, a] : e->kwargs)
      if (a) h = std::max(h, a->height);
    e->height = h + 1;
    if (e->height > kMaxNesting) too_deep();
    return e;
  }

  ExprPtr node(Expr::Kind k, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = line;
    return e;
  }

  // Statements until a {% tag %} named in `ends` (its name consumed, left in *found).
  Body parse_body(std::initializer_list<const char*> ends, std::string* found) {
    const Depth guard(*this);
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.type == T::kEof) {
        if (ends.size() == 0) return body;
        std::string want;
        size_t k = 0;
        for (const char* e : ends) {
          if (k++) want += k == ends.size() ? " or " : ", ";
          want += std::string("{% ") + e + " %}";
        }
        fail("unexpected end of template, expected " + want);
      }
      if (t.type == T::kData) {
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::kText;
        s->line = t.line;
        s->text = t.text;
        body.push_back(std::move(s));
        ++pos_;
      } else if (t.type == T::kVarBegin) {
        ++pos_;
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::kOutput;
        s->line = t.line;
        s->expr = parse_tuple(true, false);
        if (cur().type != T::kVarEnd) fail("expected '}}', got " + describe(cur()));
        ++pos_;
        body.push_back(std::move(s));
      } else if (t.type == T::kBlockBegin) {
        ++pos_;
        if (cur().type != T::kName) fail("expected a tag name, got " + describe(cur()));
        for (const char* e : ends) {
          if (cur().text == e) {
            *found = next().text;
            return body;
          }
        }
        body.push_back(parse_statement());
      } else {
        fail("unexpected " + describe(t));
      }
    }
  }

  StmtPtr parse_statement() {
    const Token& t = cur();
    const std::string tag = t.text;
    auto s = std::make_unique<Stmt>();
    s->line = t.line;
    ++pos_;
    if (tag == "for") return parse_for(std::move(s));
    if (tag == "if") return parse_if(std::move(s));
    if (tag == "set") return parse_set(std::move(s));
    if (tag == "macro") return parse_macro(std::move(s));
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) fail("'" + tag + "' outside of a loop");
      s->kind = tag == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue;
      expect_block_end();
      return s;
    }
    if (tag == "generation") {
      // transformers' AssistantTracker tag: renders its body in place.
      s->kind = Stmt::Kind::kScope;
      expect_block_end();
      std::string end;
      s->body = parse_body({"endgeneration"}, &end);
      expect_block_end();
      return s;
    }
    static const char* kUnsupported[] = {"call",       "filter",  "with",   "block",
                                         "extends",    "include", "import", "from",
                                         "autoescape", "do",      "trans"};
    for (const char* u : kUnsupported) {
      if (tag == u) {
        --pos_;
        unsupported("the '{% " + tag + " %}' tag");
      }
    }
    --pos_;
    fail("unknown tag '" + tag + "'");
  }

  // Assignment targets: name, or names separated by commas (optionally parenthesized).
  std::vector<std::string> parse_targets() {
    std::vector<std::string> names;
    const bool paren = skip_op("(");
    do {
      names.push_back(expect_name());
    } while (skip_op(","));
    if (paren) expect_op(")");
    return names;
  }

  StmtPtr parse_for(StmtPtr s) {
    s->kind = Stmt::Kind::kFor;
    s->targets = parse_targets();
    if (!skip_name("in")) fail("expected 'in' after the for-loop target, got " + describe(cur()));
    s->expr = parse_tuple(false, false);
    if (skip_name("if")) s->cond = parse_expression(true);
    if (is_name("recursive")) unsupported("recursive for-loops");
    expect_block_end();
    ++loop_depth_;
    std::string end;
    s->body = parse_body({"endfor", "else"}, &end);
    --loop_depth_;
    if (end == "else") {
      expect_block_end();
      s->else_body = parse_body({"endfor"}, &end);
    }
    expect_block_end();
    return s;
  }

  StmtPtr parse_if(StmtPtr s) {
    s->kind = Stmt::Kind::kIf;
    std::string end;
    ExprPtr cond = parse_tuple(false, false);
    expect_block_end();
    while (true) {
      Body body = parse_body({"elif", "else", "endif"}, &end);
      s->branches.emplace_back(std::move(cond), std::move(body));
      if (end == "elif") {
        cond = parse_tuple(false, false);
        expect_block_end();
        continue;
      }
      if (end == "else") {
        expect_block_end();
        s->else_body = parse_body({"endif"}, &end);
      }
      expect_block_end();
      return s;
    }
  }

  StmtPtr parse_set(StmtPtr s) {
    const std::string first = expect_name();
    s->targets.push_back(first);
    if (skip_op(".")) {
      s->attr = expect_name();
    } else {
      while (skip_op(",")) s->targets.push_back(expect_name());
    }
    if (skip_op("=")) {
      s->kind = Stmt::Kind::kSet;
      s->expr = parse_tuple(true, false);
      expect_block_end();
      return s;
    }
    if (!s->attr.empty() || s->targets.size() != 1) fail("expected '=' in set");
    if (is_op("|")) unsupported("a filter on a block set");
    s->kind = Stmt::Kind::kSetBlock;
    expect_block_end();
    std::string end;
    s->body = parse_body({"endset"}, &end);
    expect_block_end();
    return s;
  }

  StmtPtr parse_macro(StmtPtr s) {
    s->kind = Stmt::Kind::kMacro;
    s->name = expect_name();
    expect_op("(");
    while (!is_op(")")) {
      if (!s->params.empty()) expect_op(",");
      if (is_op(")")) break;
      std::string p = expect_name();
      ExprPtr def;
      if (skip_op("=")) def = parse_expression(true);
      s->params.emplace_back(std::move(p), std::move(def));
    }
    expect_op(")");
    expect_block_end();
    std::string end;
    const int saved = loop_depth_;
    loop_depth_ = 0;
    s->body = parse_body({"endmacro"}, &end);
    loop_depth_ = saved;
    if (cur().type == T::kName) ++pos_;  // {% endmacro name %}
    expect_block_end();
    return s;
  }

  // ---- expressions ----

  bool is_tuple_end() const {
    return cur().type == T::kVarEnd || cur().type == T::kBlockEnd || is_op(")") ||
           (cur().type == T::kName && (cur().text == "recursive" || cur().text == "if"));
  }

  ExprPtr parse_tuple(bool with_condexpr, bool explicit_parens) {
    const int line = cur().line;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) expect_op(",");
      if (is_tuple_end()) break;
      items.push_back(parse_expression(with_condexpr));
      if (is_op(",")) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parens) fail("expected an expression, got " + describe(cur()));
    }
    auto e = node(Expr::Kind::kTuple, line);
    e->args = std::move(items);
    return seal(std::move(e));
  }

  ExprPtr parse_expression(bool with_condexpr) {
    const Depth guard(*this);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    const Depth guard(*this);
    const int line = cur().line;
    ExprPtr e = parse_or();
    while (skip_name("if")) {
      auto c = node(Expr::Kind::kCond, line);
      c->args.push_back(parse_or());
      c->args.push_back(std::move(e));
      c->args.push_back(skip_name("else") ? parse_condexpr() : nullptr);
      e = seal(std::move(c));
    }
    return e;
  }

  ExprPtr binary(Expr::Kind k, int line, ExprPtr l, ExprPtr r, std::string op = {}) {
    auto e = node(k, line);
    e->name = std::move(op);
    e->args.push_back(std::move(l));
    e->args.push_back(std::move(r));
    return seal(std::move(e));
  }

  ExprPtr parse_or() {
    const int line = cur().line;
    ExprPtr l = parse_and();
    while (skip_name("or")) l = binary(Expr::Kind::kOr, line, std::move(l), parse_and());
    return l;
  }

  ExprPtr parse_and() {
    const int line = cur().line;
    ExprPtr l = parse_not();
    while (skip_name("and")) l = binary(Expr::Kind::kAnd, line, std::move(l), parse_not());
    return l;
  }

  ExprPtr parse_not() {
    const int line = cur().line;
    if (skip_name("not")) {
      const Depth guard(*this);
      auto e = node(Expr::Kind::kNot, line);
      e->args.push_back(parse_not());
      return seal(std::move(e));
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const int line = cur().line;
    ExprPtr first = parse_math1();
    auto e = node(Expr::Kind::kCompare, line);
    e->args.push_back(std::move(first));
    while (true) {
      if (cur().type == T::kOp && (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                                   cur().text == "<=" || cur().text == ">" || cur().text == ">=")) {
        e->ops.push_back(next().text);
      } else if (skip_name("in")) {
        e->ops.push_back("in");
      } else if (is_name("not") && peek().type == T::kName && peek().text == "in") {
        pos_ += 2;
        e->ops.push_back("not in");
      } else {
        break;
      }
      e->args.push_back(parse_math1());
    }
    if (e->ops.empty()) return std::move(e->args[0]);
    return seal(std::move(e));
  }

  ExprPtr parse_math1() {
    const int line = cur().line;
    ExprPtr l = parse_concat();
    while (is_op("+") || is_op("-")) {
      std::string op = next().text;
      l = binary(Expr::Kind::kBinary, line, std::move(l), parse_concat(), op);
    }
    return l;
  }

  ExprPtr parse_concat() {
    const int line = cur().line;
    ExprPtr first = parse_math2();
    if (!is_op("~")) return first;
    auto e = node(Expr::Kind::kConcat, line);
    e->args.push_back(std::move(first));
    while (skip_op("~")) e->args.push_back(parse_math2());
    return seal(std::move(e));
  }

  ExprPtr parse_math2() {
    const int line = cur().line;
    ExprPtr l = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = next().text;
      l = binary(Expr::Kind::kBinary, line, std::move(l), parse_pow(), op);
    }
    return l;
  }

  ExprPtr parse_pow() {
    const int line = cur().line;
    ExprPtr l = parse_unary(true);
    while (skip_op("**"))
      l = binary(Expr::Kind::kBinary, line, std::move(l), parse_unary(true), "**");
    return l;
  }

  ExprPtr parse_unary(bool with_filter) {
    const int line = cur().line;
    ExprPtr e;
    const Depth guard(*this);
    if (skip_op("-")) {
      e = node(Expr::Kind::kNeg, line);
      e->args.push_back(parse_unary(false));
    } else if (skip_op("+")) {
      e = node(Expr::Kind::kPos, line);
      e->args.push_back(parse_unary(false));
    } else {
      e = parse_primary();
    }
    e = seal(std::move(e));
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    const int line = t.line;
    if (t.type == T::kName) {
      ++pos_;
      auto lit = [&](Value v) {
        auto e = node(Expr::Kind::kLiteral, line);
        e->value = std::move(v);
        return e;
      };
      if (t.text == "true" || t.text == "True") return lit(Value::boolean(true));
      if (t.text == "false" || t.text == "False") return lit(Value::boolean(false));
      if (t.text == "none" || t.text == "None") return lit(Value::none());
      auto e = node(Expr::Kind::kName, line);
      e->name = t.text;
      return e;
    }
    if (t.type == T::kString) {
      std::string s;
      while (cur().type == T::kString) s += next().text;  // adjacent literals concatenate
      auto e = node(Expr::Kind::kLiteral, line);
      e->value = Value::string(std::move(s));
      return e;
    }
    if (t.type == T::kInt || t.type == T::kFloat) {
      ++pos_;
      auto e = node(Expr::Kind::kLiteral, line);
      e->value = t.type == T::kInt ? Value::integer(t.i) : Value::number(t.f);
      return e;
    }
    if (skip_op("(")) {
      ExprPtr e = parse_tuple(true, true);
      expect_op(")");
      return e;
    }
    if (skip_op("[")) {
      auto e = node(Expr::Kind::kList, line);
      while (!is_op("]")) {
        if (!e->args.empty()) expect_op(",");
        if (is_op("]")) break;
        e->args.push_back(parse_expression(true));
      }
      expect_op("]");
      return seal(std::move(e));
    }
    if (skip_op("{")) {
      auto e = node(Expr::Kind::kDict, line);
      while (!is_op("}")) {
        if (!e->args.empty()) expect_op(",");
        if (is_op("}")) break;
        e->args.push_back(parse_expression(true));
        expect_op(":");
        e->args.push_back(parse_expression(true));
      }
      expect_op("}");
      return seal(std::move(e));
    }
    fail("unexpected " + describe(t));
  }

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      const int line = cur().line;
      if (skip_op(".")) {
        if (cur().type == T::kInt) {
          auto g = node(Expr::Kind::kGetItem, line);
          g->args.push_back(std::move(e));
          auto idx = node(Expr::Kind::kLiteral, line);
          idx->value = Value::integer(next().i);
          g->args.push_back(std::move(idx));
          e = seal(std::move(g));
        } else {
          auto g = node(Expr::Kind::kGetAttr, line);
          g->name = expect_name();
          g->args.push_back(std::move(e));
          e = seal(std::move(g));
        }
      } else if (skip_op("[")) {
        e = seal(parse_subscript(std::move(e), line));
      } else if (is_op("(")) {
        auto c = node(Expr::Kind::kCall, line);
        c->args.push_back(std::move(e));
        parse_call_args(*c);
        e = seal(std::move(c));
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr obj, int line) {
    ExprPtr parts[3];
    bool slice = false;
    if (!is_op(":")) parts[0] = parse_expression(true);
    if (skip_op(":")) {
      slice = true;
      if (!is_op("]") && !is_op(":")) parts[1] = parse_expression(true);
      if (skip_op(":")) {
        if (!is_op("]")) parts[2] = parse_expression(true);
      }
    }
    if (is_op(",")) unsupported("tuple subscripts");
    expect_op("]");
    auto e = node(slice ? Expr::Kind::kSlice : Expr::Kind::kGetItem, line);
    e->args.push_back(std::move(obj));
    if (slice) {
      for (auto& p : parts) e->args.push_back(std::move(p));
    } else {
      e->args.push_back(std::move(parts[0]));
    }
    return e;
  }

  // "(" args [, name=value ...] ")" into e.args (after the existing ones) and e.kwargs.
  void parse_call_args(Expr& e) {
    expect_op("(");
    bool first = true;
    while (!is_op(")")) {
      if (!first) expect_op(",");
      first = false;
      if (is_op(")")) break;
      if (is_op("*") || is_op("**")) unsupported("*args / **kwargs in calls");
      if (cur().type == T::kName && peek().type == T::kOp && peek().text == "=") {
        std::string k = next().text;
        ++pos_;
        e.kwargs.emplace_back(std::move(k), parse_expression(true));
      } else {
        if (!e.kwargs.empty()) fail("positional argument after keyword argument");
        e.args.push_back(parse_expression(true));
      }
    }
    expect_op(")");
  }

  ExprPtr parse_filter_expr(ExprPtr e) {
    while (true) {
      const int line = cur().line;
      if (skip_op("|")) {
        auto f = node(Expr::Kind::kFilter, line);
        f->name = expect_name();
        if (is_op(".")) unsupported("dotted filter names");
        if (!has_filter(f->name)) unsupported("the filter '" + f->name + "'");
        f->args.push_back(std::move(e));
        if (is_op("(")) parse_call_args(*f);
        e = seal(std::move(f));
      } else if (skip_name("is")) {
        auto t = node(Expr::Kind::kTest, line);
        t->negated = skip_name("not");
        if (cur().type != T::kName) fail("expected a test name after 'is', got " + describe(cur()));
        t->name = next().text;
        if (!has_test(t->name)) unsupported("the test '" + t->name + "'");
        t->args.push_back(std::move(e));
        if (is_op("(")) {
          parse_call_args(*t);
        } else if ((cur().type == T::kName || cur().type == T::kString || cur().type == T::kInt ||
                    cur().type == T::kFloat || is_op("[") || is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
          if (is_name("is")) fail("tests cannot be chained with 'is'");
          t->args.push_back(parse_postfix(parse_primary()));
        }
        e = seal(std::move(t));
      } else if (is_op("(")) {
        auto c = node(Expr::Kind::kCall, line);
        c->args.push_back(std::move(e));
        parse_call_args(*c);
        e = seal(std::move(c));
      } else {
        return e;
      }
    }
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
  int loop_depth_ = 0;
  int depth_ = 0;
};

}  // namespace

Body parse(std::string_view source) {
  return Parser(lex(source)).parse_template();
}

}  // namespace dlx::jinja
