// The tree-walking evaluator behind Template::render.
#include "engine/tokenizer/jinja_template.h"

#include <cmath>

#include "engine/tokenizer/jinja_builtins.h"
#include "engine/tokenizer/jinja_parser.h"
#include "engine/util/error.h"

namespace dlx::jinja {
namespace {

constexpr int kMaxMacroDepth = 64;

[[noreturn]] void type_error(const std::string& msg) {
  throw Error(ErrorCode::kInvalidArgument, msg);
}

// Variables of one scope; lookups walk to the enclosing scopes.
struct Frame {
  const Frame* parent = nullptr;
  std::vector<std::pair<std::string, Value>> vars;

  const Value* find(const std::string& name) const {
    for (const Frame* f = this; f; f = f->parent) {
      for (const auto& [k, v] : f->vars) {
        if (k == name) return &v;
      }
    }
    return nullptr;
  }
  void set(const std::string& name, Value v) {
    for (auto& [k, old] : vars) {
      if (k == name) {
        old = std::move(v);
        return;
      }
    }
    vars.emplace_back(name, std::move(v));
  }
};

[[noreturn]] void undefined_error(const Value& v) {
  type_error(v.str().empty() ? "an undefined value was used" : "'" + v.str() + "' is undefined");
}

// 64-bit integer results that do not fit are errors, never a trap or wrap-around.
Value checked_int(bool overflow, int64_t r, const std::string& op) {
  if (overflow) type_error("integer overflow in '" + op + "' (results must fit in 64 bits)");
  return Value::integer(r);
}

Value arith(const std::string& op, const Value& a, const Value& b) {
  if (a.is_undefined()) undefined_error(a);
  if (b.is_undefined()) undefined_error(b);
  const bool ints = a.is_int() && b.is_int();
  auto bad = [&]() -> Value {
    type_error("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" +
               b.type_name() + "'");
  };
  if (op == "+") {
    if (ints) {
      int64_t r = 0;
      const bool overflow = __builtin_add_overflow(a.as_int(), b.as_int(), &r);
      return checked_int(overflow, r, op);
    }
    if (a.is_number() && b.is_number()) return Value::number(a.as_double() + b.as_double());
    if (a.is_string() && b.is_string()) {
      check_string_size(uint64_t{a.str().size()} + b.str().size(), op);
      return Value::string(a.str() + b.str());
    }
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
      check_list_size(uint64_t{a.items().size()} + b.items().size(), op);
      List l = a.items();
      l.insert(l.end(), b.items().begin(), b.items().end());
      return a.is_tuple() ? Value::tuple(std::move(l)) : Value::list(std::move(l));
    }
    return bad();
  }
  if (op == "*") {
    if (ints) {
      int64_t r = 0;
      const bool overflow = __builtin_mul_overflow(a.as_int(), b.as_int(), &r);
      return checked_int(overflow, r, op);
    }
    if (a.is_number() && b.is_number()) return Value::number(a.as_double() * b.as_double());
    const Value* seq = a.is_int() ? &b : &a;
    const Value* cnt = a.is_int() ? &a : &b;
    if (cnt->is_int() && (seq->is_string() || seq->is_list())) {
      const auto n = static_cast<uint64_t>(std::max<int64_t>(0, cnt->as_int()));
      // n is at most 2^24 after the first check and any length far below 2^40: no wrap.
      if (seq->is_string()) {
        check_string_size(n, op);
        check_string_size(n * seq->str().size(), op);
      } else {
        check_list_size(n, op);
        check_list_size(n * seq->items().size(), op);
      }
      if (seq->is_string()) {
        std::string s;
        s.reserve(static_cast<size_t>(n * seq->str().size()));
        for (uint64_t k = 0; k < n; ++k) s += seq->str();
        return Value::string(std::move(s));
      }
      List l;
      for (uint64_t k = 0; k < n; ++k) l.insert(l.end(), seq->items().begin(), seq->items().end());
      return Value::list(std::move(l));
    }
    return bad();
  }
  if (op == "%" && a.is_string()) {
    throw Error(ErrorCode::kUnsupported, "printf-style string formatting ('%') is not supported");
  }
  if (!a.is_number() || !b.is_number()) return bad();
  if (op == "-") {
    if (!ints) return Value::number(a.as_double() - b.as_double());
    int64_t r = 0;
    const bool overflow = __builtin_sub_overflow(a.as_int(), b.as_int(), &r);
    return checked_int(overflow, r, op);
  }
  if (op == "/") {
    if (b.as_double() == 0) type_error("division by zero");
    return Value::number(a.as_double() / b.as_double());
  }
  if (op == "//" || op == "%") {
    if (b.as_double() == 0) type_error("integer division or modulo by zero");
    if (ints) {
      const int64_t x = a.as_int(), y = b.as_int();
      if (y == -1) {  // INT64_MIN / -1 traps in hardware
        if (op == "%") return Value::integer(0);
        return checked_int(x == INT64_MIN, x == INT64_MIN ? 0 : -x, op);
      }
      int64_t q = x / y, r = x % y;
      if (r != 0 && ((r < 0) != (y < 0))) {  // Python floors
        --q;
        r += y;
      }
      return Value::integer(op == "//" ? q : r);
    }
    const double x = a.as_double(), y = b.as_double();
    if (op == "//") return Value::number(std::floor(x / y));
    double r = std::fmod(x, y);
    if (r != 0 && ((r < 0) != (y < 0))) r += y;
    return Value::number(r);
  }
  if (op == "**") {
    if (ints && b.as_int() >= 0) {
      int64_t r = 1, base = a.as_int();
      bool overflow = false;
      for (int64_t e = b.as_int(); e > 0 && !overflow; e >>= 1) {  // square-and-multiply
        if (e & 1) overflow = __builtin_mul_overflow(r, base, &r);
        if (e > 1 && !overflow) overflow = __builtin_mul_overflow(base, base, &base);
      }
      return checked_int(overflow, r, op);
    }
    return Value::number(std::pow(a.as_double(), b.as_double()));
  }
  return bad();
}

bool contains(const Value& container, const Value& item) {
  CallArgs a;
  a.pos.push_back(container);
  return apply_test("in", item, a);
}

class Evaluator {
 public:
  enum class Flow { kNormal, kBreak, kContinue };

  Evaluator(const Frame& root, const RenderLimits& limits) : root_(root), limits_(limits) {}
  int line() const { return line_; }

  // Counts one unit of work against the step budget; every 1024 the interrupt is polled.
  void step() {
    if (++steps_ > limits_.max_steps) {
      throw Error(ErrorCode::kInvalidArgument,
                  "rendering took more than " + std::to_string(limits_.max_steps) +
                      " steps (the template's loops are too long for these messages)",
                  "messages");
    }
    if (limits_.interrupt && (steps_ & 1023) == 0) limits_.interrupt->check("chat rendering");
  }

  void emit(std::string& out, std::string_view text) {
    if (out.size() + text.size() > limits_.max_output_bytes) {
      throw Error(ErrorCode::kInvalidArgument,
                  "the rendered chat is larger than the limit of " +
                      std::to_string(limits_.max_output_bytes) + " bytes",
                  "messages");
    }
    out += text;
  }

  Flow exec(const Body& body, Frame& f, std::string& out) {
    for (const StmtPtr& s : body) {
      const Flow fl = exec(*s, f, out);
      if (fl != Flow::kNormal) return fl;
    }
    return Flow::kNormal;
  }

  Value eval(const Expr& e, const Frame& f) {
    line_ = e.line;
    step();
    switch (e.kind) {
      case Expr::Kind::kLiteral:
        return e.value;
      case Expr::Kind::kName: {
        const Value* v = f.find(e.name);
        return v ? *v : Value::undefined(e.name);
      }
      case Expr::Kind::kList:
      case Expr::Kind::kTuple: {
        List l;
        for (const auto& a : e.args) l.push_back(eval(*a, f));
        return e.kind == Expr::Kind::kTuple ? Value::tuple(std::move(l))
                                            : Value::list(std::move(l));
      }
      case Expr::Kind::kDict: {
        Value d = Value::dict();
        for (size_t k = 0; k + 1 < e.args.size(); k += 2) {
          const Value key = eval(*e.args[k], f);
          if (!key.is_string()) {
            throw Error(ErrorCode::kUnsupported, "dict keys other than strings are not supported");
          }
          d.dict_ref().set(key.str(), eval(*e.args[k + 1], f));
        }
        return d;
      }
      case Expr::Kind::kGetAttr:
        return get_attr(eval(*e.args[0], f), e.name);
      case Expr::Kind::kGetItem: {
        const Value obj = eval(*e.args[0], f);
        return get_item(obj, eval(*e.args[1], f));
      }
      case Expr::Kind::kSlice: {
        const Value obj = eval(*e.args[0], f);
        auto part = [&](size_t k) { return e.args[k] ? eval(*e.args[k], f) : Value::none(); };
        return slice(obj, part(1), part(2), part(3));
      }
      case Expr::Kind::kCall: {
        const Value callee = eval(*e.args[0], f);
        CallArgs a = args(e, f);
        line_ = e.line;
        return callee.call(a);
      }
      case Expr::Kind::kFilter: {
        const Value subject = eval(*e.args[0], f);
        CallArgs a = args(e, f);
        line_ = e.line;
        return apply_filter(e.name, subject, a);
      }
      case Expr::Kind::kTest: {
        const Value subject = eval(*e.args[0], f);
        CallArgs a = args(e, f);
        line_ = e.line;
        return Value::boolean(apply_test(e.name, subject, a) != e.negated);
      }
      case Expr::Kind::kNeg:
      case Expr::Kind::kPos: {
        const Value v = eval(*e.args[0], f);
        if (v.is_undefined()) undefined_error(v);
        if (!v.is_number())
          type_error("bad operand type for unary " +
                     std::string(e.kind == Expr::Kind::kNeg ? "-" : "+") + ": '" + v.type_name() +
                     "'");
        if (e.kind == Expr::Kind::kPos) return v.is_int() ? Value::integer(v.as_int()) : v;
        if (!v.is_int()) return Value::number(-v.as_double());
        return checked_int(v.as_int() == INT64_MIN,
                           v.is_int() && v.as_int() != INT64_MIN ? -v.as_int() : 0, "-");
      }
      case Expr::Kind::kNot:
        return Value::boolean(!eval(*e.args[0], f).truthy());
      case Expr::Kind::kBinary: {
        const Value a = eval(*e.args[0], f);
        const Value b = eval(*e.args[1], f);
        line_ = e.line;
        return arith(e.name, a, b);
      }
      case Expr::Kind::kConcat: {
        std::string s;
        for (const auto& a : e.args) {
          s += to_str(eval(*a, f));
          check_string_size(s.size(), "~");
        }
        return Value::string(std::move(s));
      }
      case Expr::Kind::kCompare: {
        Value left = eval(*e.args[0], f);
        for (size_t k = 0; k < e.ops.size(); ++k) {
          Value right = eval(*e.args[k + 1], f);
          line_ = e.line;
          const std::string& op = e.ops[k];
          bool r;
          if (op == "==")
            r = equals(left, right);
          else if (op == "!=")
            r = !equals(left, right);
          else if (op == "<")
            r = less(left, right);
          else if (op == "<=")
            r = !less(right, left);
          else if (op == ">")
            r = less(right, left);
          else if (op == ">=")
            r = !less(left, right);
          else if (op == "in")
            r = contains(right, left);
          else
            r = !contains(right, left);
          if (!r) return Value::boolean(false);
          left = std::move(right);
        }
        return Value::boolean(true);
      }
      case Expr::Kind::kAnd: {
        Value l = eval(*e.args[0], f);
        return l.truthy() ? eval(*e.args[1], f) : l;
      }
      case Expr::Kind::kOr: {
        Value l = eval(*e.args[0], f);
        return l.truthy() ? l : eval(*e.args[1], f);
      }
      case Expr::Kind::kCond: {
        if (eval(*e.args[0], f).truthy()) return eval(*e.args[1], f);
        return e.args[2] ? eval(*e.args[2], f) : Value::undefined();
      }
    }
    return Value();
  }

 private:
  CallArgs args(const Expr& e, const Frame& f) {
    CallArgs a;
    for (size_t k = 1; k < e.args.size(); ++k) a.pos.push_back(eval(*e.args[k], f));
    for (const auto& [name, ex] : e.kwargs) a.kw.emplace_back(name, eval(*ex, f));
    return a;
  }

  void bind(Frame& f, const std::vector<std::string>& targets, const Value& v) {
    if (targets.size() == 1) {
      f.set(targets[0], v);
      return;
    }
    const List items = iterate(v);
    if (items.size() != targets.size()) {
      type_error("cannot unpack " + std::to_string(items.size()) + " values into " +
                 std::to_string(targets.size()) + " names");
    }
    for (size_t k = 0; k < targets.size(); ++k) f.set(targets[k], items[k]);
  }

  Flow exec(const Stmt& s, Frame& f, std::string& out) {
    line_ = s.line;
    step();
    switch (s.kind) {
      case Stmt::Kind::kText:
        emit(out, s.text);
        return Flow::kNormal;
      case Stmt::Kind::kOutput:
        emit(out, to_str(eval(*s.expr, f)));
        return Flow::kNormal;
      case Stmt::Kind::kIf:
        for (const auto& [cond, body] : s.branches) {
          if (eval(*cond, f).truthy()) return exec(body, f, out);
        }
        return exec(s.else_body, f, out);
      case Stmt::Kind::kFor:
        return exec_for(s, f, out);
      case Stmt::Kind::kSet: {
        Value v = eval(*s.expr, f);
        if (!s.attr.empty()) {
          const Value* found = f.find(s.targets[0]);
          if (!found || !found->is_namespace()) {
            type_error("cannot assign attribute on non-namespace object '" + s.targets[0] + "'");
          }
          Value ns = *found;  // shares the namespace's dict
          ns.dict_ref().set(s.attr, std::move(v));
        } else {
          bind(f, s.targets, v);
        }
        return Flow::kNormal;
      }
      case Stmt::Kind::kSetBlock: {
        std::string captured;
        exec(s.body, f, captured);
        f.set(s.targets[0], Value::string(std::move(captured)));
        return Flow::kNormal;
      }
      case Stmt::Kind::kMacro:
        f.set(s.name, make_macro(s));
        return Flow::kNormal;
      case Stmt::Kind::kBreak:
        return Flow::kBreak;
      case Stmt::Kind::kContinue:
        return Flow::kContinue;
      case Stmt::Kind::kScope:
        return exec(s.body, f, out);
    }
    return Flow::kNormal;
  }

  Flow exec_for(const Stmt& s, Frame& f, std::string& out) {
    List items = iterate(eval(*s.expr, f));
    if (s.cond) {
      List kept;
      for (const Value& item : items) {
        step();
        Frame probe{&f, {}};
        bind(probe, s.targets, item);
        if (eval(*s.cond, probe).truthy()) kept.push_back(item);
      }
      items.swap(kept);
    }
    if (items.empty()) return exec(s.else_body, f, out);
    const auto n = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < n; ++i) {
      step();  // an empty body still costs its iterations
      Frame it{&f, {}};
      bind(it, s.targets, items[static_cast<size_t>(i)]);
      Value loop = Value::dict();
      Dict& d = loop.dict_ref();
      d.set("index", Value::integer(i + 1));
      d.set("index0", Value::integer(i));
      d.set("revindex", Value::integer(n - i));
      d.set("revindex0", Value::integer(n - i - 1));
      d.set("first", Value::boolean(i == 0));
      d.set("last", Value::boolean(i == n - 1));
      d.set("length", Value::integer(n));
      d.set("depth", Value::integer(1));
      d.set("depth0", Value::integer(0));
      d.set("previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("previtem"));
      d.set("nextitem",
            i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value::undefined("nextitem"));
      d.set("cycle", Value::callable("cycle", [i](CallArgs& a) {
              if (a.pos.empty()) type_error("loop.cycle() needs at least one argument");
              return a.pos[static_cast<size_t>(i) % a.pos.size()];
            }));
      it.set("loop", loop);
      const Flow fl = exec(s.body, it, out);
      if (fl == Flow::kBreak) break;
    }
    return Flow::kNormal;
  }

  Value make_macro(const Stmt& s) {
    return Value::callable(s.name, [this, &s](CallArgs& a) {
      if (a.pos.size() > s.params.size()) {
        type_error("macro '" + s.name + "' takes " + std::to_string(s.params.size()) +
                   " arguments, " + std::to_string(a.pos.size()) + " given");
      }
      for (const auto& [k, v] : a.kw) {
        bool known = false;
        for (const auto& p : s.params) known = known || p.first == k;
        if (!known) type_error("macro '" + s.name + "' has no argument '" + k + "'");
      }
      if (depth_ >= kMaxMacroDepth)
        type_error("macro recursion deeper than " + std::to_string(kMaxMacroDepth));
      ++depth_;
      // Macros see the template's top-level variables, not the caller's locals.
      Frame mf{&root_, {}};
      for (size_t k = 0; k < s.params.size(); ++k) {
        const auto& [name, def] = s.params[k];
        Value v = a.get(k, name, Value::undefined(name));
        if (v.is_undefined() && !(k < a.pos.size()) && def) v = eval(*def, mf);
        mf.set(name, v);
      }
      std::string out;
      exec(s.body, mf, out);
      --depth_;
      return Value::string(std::move(out));
    });
  }

  const Frame& root_;
  const RenderLimits& limits_;
  int64_t steps_ = 0;
  int line_ = 0;
  int depth_ = 0;
};

}  // namespace

Template::Template(std::string_view source) : body_(parse(source)) {}

std::string Template::render(const std::vector<std::pair<std::string, Value>>& vars,
                             const RenderLimits& limits) const {
  // Declared first, so it ends last: it then frees every list and dict of the render (cycles,
  // deep nesting) without recursion.
  ContainerScope containers;
  Frame globals;
  for (auto& [k, v] : global_functions()) globals.set(k, std::move(v));
  Frame top{&globals, {}};
  for (const auto& [k, v] : vars) top.set(k, v);
  Evaluator ev(top, limits);
  std::string out;
  try {
    ev.exec(body_, top, out);
  } catch (const Error& e) {
    throw Error(e.code(), "chat template line " + std::to_string(ev.line()) + ": " + e.what(),
                e.param());
  }
  return out;
}

}  // namespace dlx::jinja
