// Python semantics of template values: truthiness, equality, ordering, str(), repr() and
// json.dumps formatting.
#include "engine/tokenizer/jinja_value.h"

#include <utf8proc.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "engine/tokenizer/utf8.h"
#include "engine/util/error.h"

namespace dlx::jinja {

namespace {

void check_size(uint64_t n, uint64_t cap, std::string_view op, const char* unit, const char* what) {
  if (n > cap) {
    throw Error(ErrorCode::kInvalidArgument,
                std::string(op) + ": the result would be " + std::to_string(n) + " " + unit +
                    ", over the chat template limit of " + std::to_string(cap) + " for " + what,
                "messages");
  }
}

}  // namespace

void check_string_size(uint64_t n, std::string_view op) {
  check_size(n, kMaxStringBytes, op, "bytes", "one string");
}

void check_list_size(uint64_t n, std::string_view op) {
  check_size(n, kMaxListItems, op, "items", "one list");
}

namespace {

thread_local ContainerScope* tl_scope = nullptr;

// Recursive walks over a value (repr, tojson, ==, <) stop at kMaxValueDepth.
void check_depth(int depth, const char* op) {
  if (depth > kMaxValueDepth) {
    throw Error(ErrorCode::kInvalidArgument,
                std::string(op) + ": a value nested deeper than " + std::to_string(kMaxValueDepth) +
                    " levels (or one that contains itself)",
                "messages");
  }
}

}  // namespace

ContainerScope::ContainerScope() : outer_(tl_scope) {
  tl_scope = this;
}

ContainerScope::~ContainerScope() {
  tl_scope = outer_;
  // Every container is still held here, so emptying one frees no nested container: nothing
  // recurses, and cycles are cut. Then the (empty) containers go.
  for (const auto& l : lists_) l->clear();
  for (const auto& d : dicts_) d->entries.clear();
}

ContainerScope* ContainerScope::current() {
  return tl_scope;
}

void ContainerScope::add(const std::shared_ptr<List>& l) {
  lists_.push_back(l);
  compact_if_due();
}

void ContainerScope::add(const std::shared_ptr<Dict>& d) {
  dicts_.push_back(d);
  compact_if_due();
}

void ContainerScope::compact_if_due() {
  if (lists_.size() + dicts_.size() < compact_at_) return;
  // A container only this scope holds is garbage; freeing it releases its children, which
  // (made in this scope) are still held here: one level, no recursion.
  std::erase_if(lists_, [](const std::shared_ptr<List>& l) { return l.use_count() == 1; });
  std::erase_if(dicts_, [](const std::shared_ptr<Dict>& d) { return d.use_count() == 1; });
  compact_at_ = std::max<size_t>(4096, 2 * (lists_.size() + dicts_.size()));
}

namespace {

[[noreturn]] void type_error(const std::string& msg) {
  throw Error(ErrorCode::kInvalidArgument, msg);
}

bool printable(char32_t c) {
  if (c == ' ') return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS:
      return false;
    default:
      return true;
  }
}

std::string repr_string(const std::string& s) {
  const bool has_single = s.find('\'') != std::string::npos;
  const bool has_double = s.find('"') != std::string::npos;
  const char q = has_single && !has_double ? '"' : '\'';
  std::string out(1, q);
  size_t i = 0;
  while (i < s.size()) {
    const size_t begin = i;
    const char32_t c = utf8::next(s, i);
    char buf[16];
    if (c == static_cast<char32_t>(q) || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (!printable(c)) {
      if (c < 0x100)
        std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned>(c));
      else if (c < 0x10000)
        std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
      else
        std::snprintf(buf, sizeof(buf), "\\U%08x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out.append(s, begin, i - begin);
    }
  }
  out.push_back(q);
  return out;
}

void json_string(const std::string& s, bool ensure_ascii, std::string& out) {
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const size_t begin = i;
    const char32_t c = utf8::next(s, i);
    char buf[16];
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20 || (ensure_ascii && c >= 0x80)) {
          if (c >= 0x10000) {
            const char32_t v = c - 0x10000;
            std::snprintf(buf, sizeof(buf), "\\u%04x\\u%04x",
                          0xD800 + static_cast<unsigned>(v >> 10),
                          0xDC00 + static_cast<unsigned>(v & 0x3FF));
          } else {
            std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
          }
          out += buf;
        } else {
          out.append(s, begin, i - begin);
        }
    }
  }
  out.push_back('"');
}

void dump(const Value& v, const JsonOptions& o, int level, std::string& out) {
  check_depth(level, "tojson");
  auto newline = [&](int lvl) {
    const uint64_t pad = static_cast<uint64_t>(o.indent) * static_cast<uint64_t>(lvl);
    check_string_size(out.size() + 1 + pad, "tojson");
    out.push_back('\n');
    out.append(static_cast<size_t>(pad), ' ');
  };
  const std::string item_sep = !o.item_sep.empty() ? o.item_sep : (o.indent >= 0 ? "," : ", ");
  const std::string key_sep = !o.key_sep.empty() ? o.key_sep : ": ";
  switch (v.kind()) {
    case Value::Kind::kNone:
      out += "null";
      return;
    case Value::Kind::kBool:
      out += v.as_bool() ? "true" : "false";
      return;
    case Value::Kind::kInt:
      out += std::to_string(v.as_int());
      return;
    case Value::Kind::kFloat: {
      const double d = v.as_double();
      if (std::isnan(d))
        out += "NaN";
      else if (std::isinf(d))
        out += d > 0 ? "Infinity" : "-Infinity";
      else
        out += float_repr(d);
      return;
    }
    case Value::Kind::kString:
      json_string(v.str(), o.ensure_ascii, out);
      return;
    case Value::Kind::kList: {
      const List& l = v.items();
      if (l.empty()) {
        out += "[]";
        return;
      }
      out.push_back('[');
      for (size_t k = 0; k < l.size(); ++k) {
        if (k) out += item_sep;
        if (o.indent >= 0) newline(level + 1);
        dump(l[k], o, level + 1, out);
      }
      if (o.indent >= 0) newline(level);
      out.push_back(']');
      return;
    }
    case Value::Kind::kDict: {
      if (v.is_namespace()) type_error("tojson: Object of type Namespace is not JSON serializable");
      std::vector<const std::pair<std::string, Value>*> es;
      for (const auto& e : v.dict_ref().entries) es.push_back(&e);
      if (o.sort_keys) {
        std::stable_sort(es.begin(), es.end(),
                         [](auto* a, auto* b) { return a->first < b->first; });
      }
      if (es.empty()) {
        out += "{}";
        return;
      }
      out.push_back('{');
      for (size_t k = 0; k < es.size(); ++k) {
        if (k) out += item_sep;
        if (o.indent >= 0) newline(level + 1);
        json_string(es[k]->first, o.ensure_ascii, out);
        out += key_sep;
        dump(es[k]->second, o, level + 1, out);
      }
      if (o.indent >= 0) newline(level);
      out.push_back('}');
      return;
    }
    case Value::Kind::kUndefined:
      type_error("tojson: Object of type Undefined is not JSON serializable" +
                 (v.str().empty() ? std::string() : " ('" + v.str() + "' is undefined)"));
    case Value::Kind::kCallable:
      type_error("tojson: Object of type function is not JSON serializable");
  }
}

}  // namespace

Value Value::undefined(std::string name) {
  Value v;
  v.s_ = std::move(name);
  return v;
}
Value Value::none() {
  Value v;
  v.kind_ = Kind::kNone;
  return v;
}
Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.b_ = b;
  return v;
}
Value Value::integer(int64_t i) {
  Value v;
  v.kind_ = Kind::kInt;
  v.i_ = i;
  return v;
}
Value Value::number(double d) {
  Value v;
  v.kind_ = Kind::kFloat;
  v.f_ = d;
  return v;
}
Value Value::string(std::string s) {
  Value v;
  v.kind_ = Kind::kString;
  v.s_ = std::move(s);
  return v;
}
Value Value::list(List items) {
  Value v;
  v.kind_ = Kind::kList;
  v.list_ = std::make_shared<List>(std::move(items));
  if (ContainerScope* s = ContainerScope::current()) s->add(v.list_);
  return v;
}
Value Value::tuple(List items) {
  Value v = list(std::move(items));
  v.tuple_ = true;
  return v;
}
Value Value::dict() {
  Value v;
  v.kind_ = Kind::kDict;
  v.dict_ = std::make_shared<Dict>();
  if (ContainerScope* s = ContainerScope::current()) s->add(v.dict_);
  return v;
}
Value Value::namespace_() {
  Value v = dict();
  v.dict_->is_namespace = true;
  return v;
}
Value Value::callable(std::string name, NativeFn fn) {
  Value v;
  v.kind_ = Kind::kCallable;
  v.fn_ = std::make_shared<Fn>(Fn{std::move(name), std::move(fn)});
  return v;
}

Value Value::from_json(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
      return none();
    case nlohmann::ordered_json::value_t::boolean:
      return boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const auto u = j.get<uint64_t>();
      return u <= static_cast<uint64_t>(INT64_MAX) ? integer(static_cast<int64_t>(u))
                                                   : number(static_cast<double>(u));
    }
    case nlohmann::ordered_json::value_t::number_float:
      return number(j.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return string(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      List l;
      l.reserve(j.size());
      for (const auto& e : j) l.push_back(from_json(e));
      return list(std::move(l));
    }
    case nlohmann::ordered_json::value_t::object: {
      Value d = dict();
      for (const auto& [k, e] : j.items()) d.dict_->set(k, from_json(e));
      return d;
    }
    default:
      type_error("a template variable holds a JSON value of unsupported type (binary)");
  }
}

bool Value::is_namespace() const {
  return kind_ == Kind::kDict && dict_->is_namespace;
}

double Value::as_double() const {
  switch (kind_) {
    case Kind::kFloat:
      return f_;
    case Kind::kInt:
      return static_cast<double>(i_);
    case Kind::kBool:
      return b_ ? 1.0 : 0.0;
    default:
      return 0.0;
  }
}

const std::string& Value::callable_name() const {
  return fn_->name;
}

Value Value::call(CallArgs& args) const {
  if (kind_ != Kind::kCallable) {
    if (kind_ == Kind::kUndefined) {
      type_error(s_.empty() ? "calling an undefined value" : "'" + s_ + "' is undefined");
    }
    type_error("'" + type_name() + "' object is not callable");
  }
  return fn_->fn(args);
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone:
      return false;
    case Kind::kBool:
      return b_;
    case Kind::kInt:
      return i_ != 0;
    case Kind::kFloat:
      return f_ != 0.0;
    case Kind::kString:
      return !s_.empty();
    case Kind::kList:
      return !list_->empty();
    case Kind::kDict:
      return dict_->is_namespace || !dict_->entries.empty();
    case Kind::kCallable:
      return true;
  }
  return false;
}

std::string Value::type_name() const {
  switch (kind_) {
    case Kind::kUndefined:
      return "Undefined";
    case Kind::kNone:
      return "NoneType";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "str";
    case Kind::kList:
      return tuple_ ? "tuple" : "list";
    case Kind::kDict:
      return dict_->is_namespace ? "Namespace" : "dict";
    case Kind::kCallable:
      return "function";
  }
  return "?";
}

const Value* Dict::find(std::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k == key) return &v;
  }
  return nullptr;
}

void Dict::set(const std::string& key, Value v) {
  for (auto& [k, old] : entries) {
    if (k == key) {
      old = std::move(v);
      return;
    }
  }
  entries.emplace_back(key, std::move(v));
}

Value CallArgs::get(size_t index, std::string_view name, Value fallback) const {
  if (index < pos.size()) return pos[index];
  for (const auto& [k, v] : kw) {
    if (k == name) return v;
  }
  return fallback;
}

void CallArgs::check(std::string_view fn, size_t max_pos,
                     std::initializer_list<std::string_view> allowed) const {
  if (pos.size() > max_pos) {
    type_error(std::string(fn) + "() takes at most " + std::to_string(max_pos) + " argument(s), " +
               std::to_string(pos.size()) + " given");
  }
  for (const auto& [k, v] : kw) {
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
      type_error(std::string(fn) + "() got an unexpected keyword argument '" + k + "'");
    }
  }
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // e.g. "-1.2345e+02": shortest round-trip digits
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  const size_t epos = sci.find('e');
  const int exp = std::stoi(sci.substr(epos + 1));
  std::string digits = sci.substr(0, epos);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  std::string out;
  if (exp >= -4 && exp < 16) {
    if (exp >= 0) {
      const size_t int_len = static_cast<size_t>(exp) + 1;
      if (digits.size() <= int_len) {
        out = digits + std::string(int_len - digits.size(), '0') + ".0";
      } else {
        out = digits.substr(0, int_len) + "." + digits.substr(int_len);
      }
    } else {
      out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char e[16];
    std::snprintf(e, sizeof(e), "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    out += e;
  }
  return sign + out;
}

std::string to_str(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return "";
    case Value::Kind::kString:
      return v.str();
    default:
      return repr(v);
  }
}

namespace {

std::string repr_at(const Value& v, int depth) {
  check_depth(depth, "repr");
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return "";
    case Value::Kind::kNone:
      return "None";
    case Value::Kind::kBool:
      return v.as_bool() ? "True" : "False";
    case Value::Kind::kInt:
      return std::to_string(v.as_int());
    case Value::Kind::kFloat:
      return float_repr(v.as_double());
    case Value::Kind::kString:
      return repr_string(v.str());
    case Value::Kind::kList: {
      const bool t = v.is_tuple();
      std::string out = t ? "(" : "[";
      for (size_t k = 0; k < v.items().size(); ++k) {
        if (k) out += ", ";
        out += repr_at(v.items()[k], depth + 1);
      }
      if (t && v.items().size() == 1) out += ",";
      return out + (t ? ")" : "]");
    }
    case Value::Kind::kDict: {
      std::string out = v.is_namespace() ? "<Namespace {" : "{";
      bool first = true;
      for (const auto& [k, e] : v.dict_ref().entries) {
        if (!first) out += ", ";
        first = false;
        out += repr_string(k) + ": " + repr_at(e, depth + 1);
      }
      return out + (v.is_namespace() ? "}>" : "}");
    }
    case Value::Kind::kCallable:
      throw Error(ErrorCode::kUnsupported,
                  "printing the function '" + v.callable_name() + "' is not supported");
  }
  return "";
}

}  // namespace

std::string repr(const Value& v) {
  return repr_at(v, 0);
}

std::string to_json(const Value& v, const JsonOptions& opts) {
  std::string out;
  dump(v, opts, 0, out);
  return out;
}

namespace {

bool equals_at(const Value& a, const Value& b, int depth) {
  check_depth(depth, "==");
  if (a.is_number() && b.is_number()) {
    if (a.kind() != Value::Kind::kFloat && b.kind() != Value::Kind::kFloat)
      return a.as_int() == b.as_int();
    return a.as_double() == b.as_double();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
      return true;
    case Value::Kind::kString:
      return a.str() == b.str();
    case Value::Kind::kList: {
      if (a.is_tuple() != b.is_tuple() || a.items().size() != b.items().size()) return false;
      for (size_t k = 0; k < a.items().size(); ++k) {
        if (!equals_at(a.items()[k], b.items()[k], depth + 1)) return false;
      }
      return true;
    }
    case Value::Kind::kDict: {
      if (a.is_namespace() || b.is_namespace()) return &a.dict_ref() == &b.dict_ref();
      const auto& ea = a.dict_ref().entries;
      if (ea.size() != b.dict_ref().entries.size()) return false;
      for (const auto& [k, v] : ea) {
        const Value* o = b.dict_ref().find(k);
        if (!o || !equals_at(v, *o, depth + 1)) return false;
      }
      return true;
    }
    case Value::Kind::kCallable:
      return a.callable_name() == b.callable_name();
    default:
      return false;
  }
}

bool less_at(const Value& a, const Value& b, int depth) {
  check_depth(depth, "<");
  if (a.is_number() && b.is_number()) {
    if (a.kind() != Value::Kind::kFloat && b.kind() != Value::Kind::kFloat)
      return a.as_int() < b.as_int();
    return a.as_double() < b.as_double();
  }
  if (a.is_string() && b.is_string()) return a.str() < b.str();  // UTF-8 order = code point order
  if (a.is_list() && b.is_list()) {
    const List &x = a.items(), &y = b.items();
    for (size_t k = 0; k < x.size() && k < y.size(); ++k) {
      if (!equals_at(x[k], y[k], depth + 1)) return less_at(x[k], y[k], depth + 1);
    }
    return x.size() < y.size();
  }
  type_error("'<' not supported between instances of '" + a.type_name() + "' and '" +
             b.type_name() + "'");
}

}  // namespace

bool equals(const Value& a, const Value& b) {
  return equals_at(a, b, 0);
}
bool less(const Value& a, const Value& b) {
  return less_at(a, b, 0);
}

std::u32string to_u32(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) out.push_back(utf8::next(s, i));
  return out;
}

std::string from_u32(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) utf8::append(out, c);
  return out;
}

}  // namespace dlx::jinja
