// Jinja2 builtins with Python semantics: filters (trim, tojson, length, default, join, map,
// selectattr, ...), tests (defined, none, string, mapping, ...), str/dict methods, indexing
// and slicing, and the globals transformers provides (raise_exception, strftime_now).
#include "engine/tokenizer/jinja_builtins.h"

#include <utf8proc.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <functional>
#include <unordered_map>

#include "engine/tokenizer/utf8.h"
#include "engine/util/error.h"

namespace dlx::jinja {
namespace {

constexpr size_t kMaxRange = 1'000'000;  // a runaway range() is an error, not a hang

[[noreturn]] void type_error(const std::string& msg) {
  throw Error(ErrorCode::kInvalidArgument, msg);
}
[[noreturn]] void not_supported(const std::string& what) {
  throw Error(ErrorCode::kUnsupported, what + " is not supported");
}

// Python's str.isspace.
bool py_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

char32_t upper_cp(char32_t c) {
  return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c)));
}
char32_t lower_cp(char32_t c) {
  return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
}
bool is_cased_letter(char32_t c) {
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}
bool is_alpha(char32_t c) {
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}

std::string map_cps(const std::string& s, char32_t (*f)(char32_t)) {
  std::u32string u = to_u32(s);
  for (auto& c : u) c = f(c);
  return from_u32(u);
}

std::string py_strip(const std::string& s, const Value& chars, bool left, bool right) {
  std::u32string u = to_u32(s);
  std::u32string set;
  const bool ws = chars.is_none() || chars.is_undefined();
  if (!ws) {
    if (!chars.is_string()) type_error("strip arg must be None or str");
    set = to_u32(chars.str());
  }
  auto strip_it = [&](char32_t c) {
    return ws ? py_space(c) : set.find(c) != std::u32string::npos;
  };
  size_t b = 0, e = u.size();
  if (left) {
    while (b < e && strip_it(u[b])) ++b;
  }
  if (right) {
    while (e > b && strip_it(u[e - 1])) --e;
  }
  return from_u32(u.substr(b, e - b));
}

std::string py_title(const std::string& s) {
  std::u32string u = to_u32(s);
  bool prev_cased = false;
  for (auto& c : u) {
    if (is_cased_letter(c)) {
      c = prev_cased ? lower_cp(c) : upper_cp(c);
      prev_cased = true;
    } else {
      prev_cased = false;
    }
  }
  return from_u32(u);
}

std::string py_capitalize(const std::string& s) {
  std::u32string u = to_u32(s);
  for (size_t k = 0; k < u.size(); ++k) u[k] = k == 0 ? upper_cp(u[k]) : lower_cp(u[k]);
  return from_u32(u);
}

List py_split(const std::string& s, const Value& sep, int64_t maxsplit) {
  List out;
  if (sep.is_none() || sep.is_undefined()) {
    std::u32string u = to_u32(s);
    size_t k = 0;
    while (k < u.size()) {
      while (k < u.size() && py_space(u[k])) ++k;
      if (k >= u.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
        size_t e = u.size();
        while (e > k && py_space(u[e - 1])) --e;
        out.push_back(Value::string(from_u32(u.substr(k, e - k))));
        return out;
      }
      size_t e = k;
      while (e < u.size() && !py_space(u[e])) ++e;
      out.push_back(Value::string(from_u32(u.substr(k, e - k))));
      k = e;
    }
    return out;
  }
  if (!sep.is_string()) type_error("split: separator must be str or None");
  const std::string& d = sep.str();
  if (d.empty()) type_error("split: empty separator");
  size_t start = 0;
  while (true) {
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) break;
    const size_t p = s.find(d, start);
    if (p == std::string::npos) break;
    out.push_back(Value::string(s.substr(start, p - start)));
    start = p + d.size();
  }
  out.push_back(Value::string(s.substr(start)));
  return out;
}

std::string py_replace(const std::string& s, const std::string& old, const std::string& rep,
                       int64_t count) {
  std::string out;
  int64_t n = 0;
  if (old.empty()) {
    // Python inserts the replacement around every character.
    std::u32string u = to_u32(s);
    for (size_t k = 0; k <= u.size(); ++k) {
      if (count < 0 || n < count) {
        out += rep;
        ++n;
      }
      if (k < u.size()) utf8::append(out, u[k]);
      check_string_size(out.size(), "replace");
    }
    return out;
  }
  size_t start = 0;
  while (count < 0 || n < count) {
    const size_t p = s.find(old, start);
    if (p == std::string::npos) break;
    out.append(s, start, p - start);
    out += rep;
    check_string_size(out.size(), "replace");
    start = p + old.size();
    ++n;
  }
  out.append(s, start, std::string::npos);
  return out;
}

List splitlines(const std::string& s) {
  List out;
  size_t start = 0;
  for (size_t k = 0; k < s.size(); ++k) {
    if (s[k] == '\n' || s[k] == '\r') {
      out.push_back(Value::string(s.substr(start, k - start)));
      if (s[k] == '\r' && k + 1 < s.size() && s[k + 1] == '\n') ++k;
      start = k + 1;
    }
  }
  if (start < s.size()) out.push_back(Value::string(s.substr(start)));
  return out;
}

int64_t length_of(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return 0;
    case Value::Kind::kString:
      return static_cast<int64_t>(utf8::length(v.str()));
    case Value::Kind::kList:
      return static_cast<int64_t>(v.items().size());
    case Value::Kind::kDict:
      if (v.is_namespace()) type_error("object of type 'Namespace' has no len()");
      return static_cast<int64_t>(v.dict_ref().entries.size());
    default:
      type_error("object of type '" + v.type_name() + "' has no len()");
  }
}

int64_t to_index(const Value& v, const char* what) {
  if (!v.is_int())
    type_error(std::string(what) + " must be an integer, not '" + v.type_name() + "'");
  return v.as_int();
}

Value bound(const std::string& name, std::function<Value(CallArgs&)> fn) {
  return Value::callable(name, std::move(fn));
}

// Dotted attribute path ("a.b", "0") of make_attrgetter.
Value attr_path(const Value& item, const std::string& path) {
  Value cur = item;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    if (cur.is_undefined()) return cur;
    cur = get_item(cur, numeric ? Value::integer(std::stoll(part)) : Value::string(part));
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

// Case-insensitive key of sort/min/max/unique when case_sensitive is false.
Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value::string(map_cps(v.str(), lower_cp));
  return v;
}

CallArgs tail_args(const CallArgs& a, size_t from) {
  CallArgs t;
  for (size_t k = from; k < a.pos.size(); ++k) t.pos.push_back(a.pos[k]);
  t.kw = a.kw;
  return t;
}

// ---- string methods ----

Value string_method(const std::string& s, const std::string& name) {
  if (name == "upper")
    return bound(name, [s](CallArgs& a) {
      a.check("upper", 0, {});
      return Value::string(map_cps(s, upper_cp));
    });
  if (name == "lower")
    return bound(name, [s](CallArgs& a) {
      a.check("lower", 0, {});
      return Value::string(map_cps(s, lower_cp));
    });
  if (name == "title")
    return bound(name, [s](CallArgs& a) {
      a.check("title", 0, {});
      return Value::string(py_title(s));
    });
  if (name == "capitalize")
    return bound(name, [s](CallArgs& a) {
      a.check("capitalize", 0, {});
      return Value::string(py_capitalize(s));
    });
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    return bound(name, [s, name](CallArgs& a) {
      a.check(name, 1, {"chars"});
      return Value::string(
          py_strip(s, a.get(0, "chars", Value::none()), name != "rstrip", name != "lstrip"));
    });
  }
  if (name == "startswith" || name == "endswith") {
    return bound(name, [s, name](CallArgs& a) {
      a.check(name, 1, {});
      if (a.pos.empty()) type_error(name + "() takes at least 1 argument");
      const Value& p = a.pos[0];
      List cands = p.is_list() ? p.items() : List{p};
      for (const Value& c : cands) {
        if (!c.is_string())
          type_error(name + " first arg must be str or a tuple of str, not " + c.type_name());
        const std::string& x = c.str();
        const bool hit =
            name == "startswith"
                ? s.compare(0, x.size(), x) == 0 && s.size() >= x.size()
                : s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
        if (hit) return Value::boolean(true);
      }
      return Value::boolean(false);
    });
  }
  if (name == "split") {
    return bound(name, [s](CallArgs& a) {
      a.check("split", 2, {"sep", "maxsplit"});
      return Value::list(py_split(s, a.get(0, "sep", Value::none()),
                                  a.get(1, "maxsplit", Value::integer(-1)).as_int()));
    });
  }
  if (name == "splitlines")
    return bound(name, [s](CallArgs& a) {
      a.check("splitlines", 0, {});
      return Value::list(splitlines(s));
    });
  if (name == "replace") {
    return bound(name, [s](CallArgs& a) {
      a.check("replace", 3, {});
      if (a.pos.size() < 2 || !a.pos[0].is_string() || !a.pos[1].is_string())
        type_error("replace() takes two strings");
      return Value::string(py_replace(s, a.pos[0].str(), a.pos[1].str(),
                                      a.get(2, "count", Value::integer(-1)).as_int()));
    });
  }
  if (name == "find" || name == "count") {
    return bound(name, [s, name](CallArgs& a) {
      a.check(name, 1, {});
      if (a.pos.empty() || !a.pos[0].is_string()) type_error(name + "() takes a string");
      const std::string& x = a.pos[0].str();
      if (name == "find") {
        const size_t p = s.find(x);
        return Value::integer(p == std::string::npos ? -1
                                                     : static_cast<int64_t>(utf8::length(
                                                           std::string_view(s).substr(0, p))));
      }
      if (x.empty()) return Value::integer(static_cast<int64_t>(utf8::length(s)) + 1);
      int64_t n = 0;
      for (size_t p = s.find(x); p != std::string::npos; p = s.find(x, p + x.size())) ++n;
      return Value::integer(n);
    });
  }
  if (name == "join") {
    return bound(name, [s](CallArgs& a) {
      a.check("join", 1, {});
      std::string out;
      bool first = true;
      for (const Value& v : iterate(a.get(0, "iterable"))) {
        if (!v.is_string()) type_error("join: expected str instance, " + v.type_name() + " found");
        if (!first) out += s;
        first = false;
        out += v.str();
      }
      return Value::string(out);
    });
  }
  auto predicate = [&](bool (*f)(char32_t)) {
    return bound(name, [s, f](CallArgs&) {
      std::u32string u = to_u32(s);
      return Value::boolean(!u.empty() && std::all_of(u.begin(), u.end(), f));
    });
  };
  if (name == "isspace") return predicate(py_space);
  if (name == "isalpha") return predicate(is_alpha);
  if (name == "isdigit") {
    return predicate([](char32_t c) {
      return utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_ND;
    });
  }
  static const char* kUnsupported[] = {
      "format",      "format_map",   "encode",      "ljust",      "rjust",     "center",
      "zfill",       "partition",    "rpartition",  "expandtabs", "casefold",  "swapcase",
      "translate",   "index",        "rfind",       "rindex",     "rsplit",    "isalnum",
      "islower",     "isupper",      "istitle",     "isnumeric",  "isdecimal", "isidentifier",
      "isprintable", "removeprefix", "removesuffix"};
  for (const char* u : kUnsupported) {
    if (name == u) {
      return bound(
          name, [name](CallArgs&) -> Value { not_supported("the string method '" + name + "'"); });
    }
  }
  return Value::undefined(name);
}

Value dict_method(const Value& d, const std::string& name) {
  if (name == "get") {
    return bound(name, [d](CallArgs& a) {
      a.check("get", 2, {});
      const Value key = a.get(0, "key");
      if (!key.is_string()) return a.get(1, "default", Value::none());
      const Value* v = d.dict_ref().find(key.str());
      return v ? *v : a.get(1, "default", Value::none());
    });
  }
  if (name == "items" || name == "keys" || name == "values") {
    return bound(name, [d, name](CallArgs& a) {
      a.check(name, 0, {});
      List out;
      for (const auto& [k, v] : d.dict_ref().entries) {
        if (name == "items")
          out.push_back(Value::tuple({Value::string(k), v}));
        else if (name == "keys")
          out.push_back(Value::string(k));
        else
          out.push_back(v);
      }
      return Value::list(std::move(out));
    });
  }
  static const char* kMutating[] = {"pop",   "popitem", "update",  "setdefault",
                                    "clear", "copy",    "fromkeys"};
  for (const char* m : kMutating) {
    if (name == m) {
      return bound(name, [name](CallArgs&) -> Value {
        type_error("dict." + name + "() is not allowed: templates run in an immutable sandbox");
      });
    }
  }
  return Value();  // not a method
}

Value list_method(const Value& l, const std::string& name) {
  if (name == "index" || name == "count") {
    return bound(name, [l, name](CallArgs& a) {
      a.check(name, 1, {});
      const Value x = a.get(0, "value");
      int64_t n = 0;
      for (size_t k = 0; k < l.items().size(); ++k) {
        if (!equals(l.items()[k], x)) continue;
        if (name == "index") return Value::integer(static_cast<int64_t>(k));
        ++n;
      }
      if (name == "index") type_error("list.index(x): x not in list");
      return Value::integer(n);
    });
  }
  static const char* kMutating[] = {"append", "pop",   "insert", "extend",
                                    "remove", "clear", "sort",   "reverse"};
  for (const char* m : kMutating) {
    if (name == m) {
      return bound(name, [name](CallArgs&) -> Value {
        type_error("list." + name + "() is not allowed: templates run in an immutable sandbox");
      });
    }
  }
  return Value::undefined(name);
}

// ---- filters ----

using Filter = Value (*)(const Value&, CallArgs&);

Value f_trim(const Value& v, CallArgs& a) {
  a.check("trim", 1, {"chars"});
  return Value::string(py_strip(to_str(v), a.get(0, "chars", Value::none()), true, true));
}

Value f_tojson(const Value& v, CallArgs& a) {
  // transformers' tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
  a.check("tojson", 4, {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonOptions o;
  o.ensure_ascii = a.get(0, "ensure_ascii", Value::boolean(false)).truthy();
  const Value indent = a.get(1, "indent", Value::none());
  if (indent.is_int())
    o.indent = static_cast<int>(std::max<int64_t>(0, indent.as_int()));
  else if (!indent.is_none())
    not_supported("tojson with a non-integer indent");
  const Value seps = a.get(2, "separators", Value::none());
  if (seps.is_list() && seps.items().size() == 2 && seps.items()[0].is_string() &&
      seps.items()[1].is_string()) {
    o.item_sep = seps.items()[0].str();
    o.key_sep = seps.items()[1].str();
  } else if (!seps.is_none()) {
    type_error("tojson: separators must be a pair of strings");
  }
  o.sort_keys = a.get(3, "sort_keys", Value::boolean(false)).truthy();
  return Value::string(to_json(v, o));
}

Value f_length(const Value& v, CallArgs& a) {
  a.check("length", 0, {});
  return Value::integer(length_of(v));
}

Value f_upper(const Value& v, CallArgs& a) {
  a.check("upper", 0, {});
  return Value::string(map_cps(to_str(v), upper_cp));
}
Value f_lower(const Value& v, CallArgs& a) {
  a.check("lower", 0, {});
  return Value::string(map_cps(to_str(v), lower_cp));
}
Value f_title(const Value& v, CallArgs& a) {
  a.check("title", 0, {});
  return Value::string(py_title(to_str(v)));
}
Value f_capitalize(const Value& v, CallArgs& a) {
  a.check("capitalize", 0, {});
  return Value::string(py_capitalize(to_str(v)));
}

Value f_default(const Value& v, CallArgs& a) {
  a.check("default", 2, {"default_value", "boolean"});
  const bool boolean = a.get(1, "boolean", Value::boolean(false)).truthy();
  if (v.is_undefined() || (boolean && !v.truthy()))
    return a.get(0, "default_value", Value::string(""));
  return v;
}

Value f_first(const Value& v, CallArgs& a) {
  a.check("first", 0, {});
  List l = iterate(v);
  return l.empty() ? Value::undefined("first") : l.front();
}

Value f_last(const Value& v, CallArgs& a) {
  a.check("last", 0, {});
  List l = iterate(v);
  return l.empty() ? Value::undefined("last") : l.back();
}

Value f_join(const Value& v, CallArgs& a) {
  a.check("join", 2, {"d", "attribute"});
  const std::string sep = to_str(a.get(0, "d", Value::string("")));
  const Value attr = a.get(1, "attribute", Value::none());
  std::string out;
  bool first = true;
  for (const Value& item : iterate(v)) {
    if (!first) out += sep;
    first = false;
    out += to_str(attr.is_none() ? item : attr_path(item, to_str(attr)));
    check_string_size(out.size(), "join");
  }
  return Value::string(out);
}

Value f_replace(const Value& v, CallArgs& a) {
  a.check("replace", 3, {"old", "new", "count"});
  const Value count = a.get(2, "count", Value::none());
  return Value::string(py_replace(to_str(v), to_str(a.get(0, "old")), to_str(a.get(1, "new")),
                                  count.is_none() ? -1 : to_index(count, "count")));
}

Value f_items(const Value& v, CallArgs& a) {
  a.check("items", 0, {});
  if (v.is_undefined()) return Value::list();
  if (!v.is_mapping()) type_error("items: can only get item pairs from a mapping");
  List out;
  for (const auto& [k, e] : v.dict_ref().entries)
    out.push_back(Value::tuple({Value::string(k), e}));
  return Value::list(std::move(out));
}

Value f_list(const Value& v, CallArgs& a) {
  a.check("list", 0, {});
  return Value::list(iterate(v));
}
Value f_string(const Value& v, CallArgs& a) {
  a.check("string", 0, {});
  return Value::string(to_str(v));
}
Value f_safe(const Value& v, CallArgs& a) {
  a.check("safe", 0, {});
  return v;
}

// int(d) of a finite float: truncated, and an error past 64 bits (Python's int is unbounded;
// converting such a double to int64_t would be undefined behaviour).
Value float_to_int(double d) {
  const double t = std::trunc(d);
  if (!(t >= -0x1p63 && t < 0x1p63)) {
    type_error("int(): " + float_repr(d) + " does not fit in 64 bits (integer overflow)");
  }
  return Value::integer(static_cast<int64_t>(t));
}

Value f_int(const Value& v, CallArgs& a) {
  a.check("int", 2, {"default", "base"});
  const Value def = a.get(0, "default", Value::integer(0));
  if (v.is_int()) return Value::integer(v.as_int());
  if (v.kind() == Value::Kind::kFloat) {
    return std::isfinite(v.as_double()) ? float_to_int(v.as_double()) : def;
  }
  if (v.is_string()) {
    std::string s = py_strip(v.str(), Value::none(), true, true);
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    try {
      size_t used = 0;
      const long long i =
          std::stoll(s, &used, static_cast<int>(a.get(1, "base", Value::integer(10)).as_int()));
      if (used == s.size()) return Value::integer(i);
    } catch (const std::exception&) {
    }
    try {
      size_t used = 0;
      const double d = std::stod(s, &used);
      if (used == s.size() && std::isfinite(d)) return float_to_int(d);
    } catch (const std::exception&) {
    }
  }
  return def;
}

Value f_float(const Value& v, CallArgs& a) {
  a.check("float", 1, {"default"});
  if (v.is_number()) return Value::number(v.as_double());
  if (v.is_string()) {
    const std::string s = py_strip(v.str(), Value::none(), true, true);
    try {
      size_t used = 0;
      const double d = std::stod(s, &used);
      if (used == s.size()) return Value::number(d);
    } catch (const std::exception&) {
    }
  }
  return a.get(0, "default", Value::number(0.0));
}

Value f_abs(const Value& v, CallArgs& a) {
  a.check("abs", 0, {});
  if (v.kind() == Value::Kind::kFloat) return Value::number(std::fabs(v.as_double()));
  if (v.is_int()) return Value::integer(std::llabs(v.as_int()));
  type_error("bad operand type for abs(): '" + v.type_name() + "'");
}

Value f_round(const Value& v, CallArgs& a) {
  a.check("round", 2, {"precision", "method"});
  if (!v.is_number()) type_error("round: '" + v.type_name() + "' is not a number");
  const int64_t p = to_index(a.get(0, "precision", Value::integer(0)), "precision");
  const std::string method = to_str(a.get(1, "method", Value::string("common")));
  const double scale = std::pow(10.0, static_cast<double>(p));
  const double x = v.as_double() * scale;
  double r;
  if (method == "common")
    r = std::nearbyint(x);  // Python's round(): half to even
  else if (method == "ceil")
    r = std::ceil(x);
  else if (method == "floor")
    r = std::floor(x);
  else
    type_error("round: method must be common, ceil or floor");
  return Value::number(r / scale);
}

Value f_reverse(const Value& v, CallArgs& a) {
  a.check("reverse", 0, {});
  if (v.is_string()) {
    std::u32string u = to_u32(v.str());
    std::reverse(u.begin(), u.end());
    return Value::string(from_u32(u));
  }
  List l = iterate(v);
  std::reverse(l.begin(), l.end());
  return Value::list(std::move(l));
}

Value f_sum(const Value& v, CallArgs& a) {
  a.check("sum", 2, {"attribute", "start"});
  const Value attr = a.get(0, "attribute", Value::none());
  Value acc = a.get(1, "start", Value::integer(0));
  for (const Value& item : iterate(v)) {
    const Value x = attr.is_none() ? item : attr_path(item, to_str(attr));
    if (!x.is_number() || !acc.is_number()) type_error("sum: unsupported operand types");
    if (x.kind() == Value::Kind::kFloat || acc.kind() == Value::Kind::kFloat) {
      acc = Value::number(acc.as_double() + x.as_double());
    } else {
      acc = Value::integer(acc.as_int() + x.as_int());
    }
  }
  return acc;
}

Value min_max(const Value& v, CallArgs& a, bool want_max) {
  a.check(want_max ? "max" : "min", 2, {"case_sensitive", "attribute"});
  const bool cs = a.get(0, "case_sensitive", Value::boolean(false)).truthy();
  const Value attr = a.get(1, "attribute", Value::none());
  const List l = iterate(v);
  if (l.empty()) return Value::undefined(want_max ? "max" : "min");
  size_t best = 0;
  auto key = [&](size_t k) {
    return sort_key(attr.is_none() ? l[k] : attr_path(l[k], to_str(attr)), cs);
  };
  for (size_t k = 1; k < l.size(); ++k) {
    if (want_max ? less(key(best), key(k)) : less(key(k), key(best))) best = k;
  }
  return l[best];
}
Value f_min(const Value& v, CallArgs& a) {
  return min_max(v, a, false);
}
Value f_max(const Value& v, CallArgs& a) {
  return min_max(v, a, true);
}

Value f_unique(const Value& v, CallArgs& a) {
  a.check("unique", 2, {"case_sensitive", "attribute"});
  const bool cs = a.get(0, "case_sensitive", Value::boolean(false)).truthy();
  const Value attr = a.get(1, "attribute", Value::none());
  List out, seen;
  for (const Value& item : iterate(v)) {
    const Value k = sort_key(attr.is_none() ? item : attr_path(item, to_str(attr)), cs);
    if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, k); })) {
      seen.push_back(k);
      out.push_back(item);
    }
  }
  return Value::list(std::move(out));
}

Value f_sort(const Value& v, CallArgs& a) {
  a.check("sort", 3, {"reverse", "case_sensitive", "attribute"});
  const bool rev = a.get(0, "reverse", Value::boolean(false)).truthy();
  const bool cs = a.get(1, "case_sensitive", Value::boolean(false)).truthy();
  const Value attr = a.get(2, "attribute", Value::none());
  List l = iterate(v);
  auto key = [&](const Value& x) {
    return sort_key(attr.is_none() ? x : attr_path(x, to_str(attr)), cs);
  };
  std::stable_sort(l.begin(), l.end(), [&](const Value& x, const Value& y) {
    return rev ? less(key(y), key(x)) : less(key(x), key(y));
  });
  return Value::list(std::move(l));
}

Value f_map(const Value& v, CallArgs& a) {
  List out;
  for (const auto& [k, x] : a.kw) {
    if (k != "attribute" && k != "default")
      type_error("map() got an unexpected keyword argument '" + k + "'");
  }
  const Value attr = a.get(1000, "attribute", Value::none());
  if (!attr.is_none()) {
    const Value def = a.get(1000, "default", Value());
    for (const Value& item : iterate(v)) {
      Value x = attr_path(item, to_str(attr));
      out.push_back(x.is_undefined() && !def.is_undefined() ? def : x);
    }
    return Value::list(std::move(out));
  }
  if (a.pos.empty() || !a.pos[0].is_string())
    type_error("map: expected a filter name or attribute=");
  const std::string filter = a.pos[0].str();
  if (!has_filter(filter)) not_supported("the filter '" + filter + "'");
  for (const Value& item : iterate(v)) {
    CallArgs rest = tail_args(a, 1);
    out.push_back(apply_filter(filter, item, rest));
  }
  return Value::list(std::move(out));
}

// select / reject / selectattr / rejectattr.
Value select_impl(const Value& v, CallArgs& a, bool by_attr, bool keep) {
  size_t k = 0;
  std::string attr;
  if (by_attr) {
    if (a.pos.empty()) type_error("selectattr/rejectattr need an attribute name");
    attr = to_str(a.pos[k++]);
  }
  std::string test;
  if (k < a.pos.size()) test = to_str(a.pos[k++]);
  if (!test.empty() && !has_test(test)) not_supported("the test '" + test + "'");
  CallArgs rest = tail_args(a, k);
  List out;
  for (const Value& item : iterate(v)) {
    const Value x = by_attr ? attr_path(item, attr) : item;
    const bool pass = test.empty() ? x.truthy() : apply_test(test, x, rest);
    if (pass == keep) out.push_back(item);
  }
  return Value::list(std::move(out));
}
Value f_select(const Value& v, CallArgs& a) {
  return select_impl(v, a, false, true);
}
Value f_reject(const Value& v, CallArgs& a) {
  return select_impl(v, a, false, false);
}
Value f_selectattr(const Value& v, CallArgs& a) {
  return select_impl(v, a, true, true);
}
Value f_rejectattr(const Value& v, CallArgs& a) {
  return select_impl(v, a, true, false);
}

Value f_indent(const Value& v, CallArgs& a) {
  a.check("indent", 3, {"width", "first", "blank"});
  const Value w = a.get(0, "width", Value::integer(4));
  const uint64_t width =
      w.is_string() ? 0 : static_cast<uint64_t>(std::max<int64_t>(0, to_index(w, "width")));
  check_string_size(width, "indent");
  const std::string ind = w.is_string() ? w.str() : std::string(static_cast<size_t>(width), ' ');
  const bool first = a.get(1, "first", Value::boolean(false)).truthy();
  const bool blank = a.get(2, "blank", Value::boolean(false)).truthy();
  const List lines = splitlines(to_str(v) + "\n");
  std::string rv;
  for (size_t k = 0; k < lines.size(); ++k) {
    const std::string& line = lines[k].str();
    if (k > 0) rv += "\n";
    if (k > 0 && (blank || !line.empty())) rv += ind;
    rv += line;
    check_string_size(rv.size(), "indent");
  }
  if (first) rv = ind + rv;
  return Value::string(rv);
}

const std::unordered_map<std::string_view, Filter>& filters() {
  static const std::unordered_map<std::string_view, Filter> m = {
      {"trim", f_trim},
      {"tojson", f_tojson},
      {"length", f_length},
      {"count", f_length},
      {"upper", f_upper},
      {"lower", f_lower},
      {"title", f_title},
      {"capitalize", f_capitalize},
      {"default", f_default},
      {"d", f_default},
      {"first", f_first},
      {"last", f_last},
      {"join", f_join},
      {"replace", f_replace},
      {"items", f_items},
      {"list", f_list},
      {"string", f_string},
      {"safe", f_safe},
      {"int", f_int},
      {"float", f_float},
      {"abs", f_abs},
      {"round", f_round},
      {"reverse", f_reverse},
      {"sum", f_sum},
      {"min", f_min},
      {"max", f_max},
      {"unique", f_unique},
      {"sort", f_sort},
      {"map", f_map},
      {"select", f_select},
      {"reject", f_reject},
      {"selectattr", f_selectattr},
      {"rejectattr", f_rejectattr},
      {"indent", f_indent},
  };
  return m;
}

// ---- tests ----

using Test = bool (*)(const Value&, CallArgs&);

const Value& arg0(CallArgs& a, const char* test) {
  if (a.pos.empty()) type_error(std::string("the test '") + test + "' needs an argument");
  return a.pos[0];
}

const std::unordered_map<std::string_view, Test>& tests() {
  static const std::unordered_map<std::string_view, Test> m = {
      {"defined", [](const Value& v, CallArgs&) { return !v.is_undefined(); }},
      {"undefined", [](const Value& v, CallArgs&) { return v.is_undefined(); }},
      {"none", [](const Value& v, CallArgs&) { return v.is_none(); }},
      {"boolean", [](const Value& v, CallArgs&) { return v.is_bool(); }},
      {"true", [](const Value& v, CallArgs&) { return v.is_bool() && v.as_bool(); }},
      {"false", [](const Value& v, CallArgs&) { return v.is_bool() && !v.as_bool(); }},
      {"integer", [](const Value& v, CallArgs&) { return v.kind() == Value::Kind::kInt; }},
      {"float", [](const Value& v, CallArgs&) { return v.kind() == Value::Kind::kFloat; }},
      {"number", [](const Value& v, CallArgs&) { return v.is_number(); }},
      {"string", [](const Value& v, CallArgs&) { return v.is_string(); }},
      {"mapping", [](const Value& v, CallArgs&) { return v.is_mapping(); }},
      {"sequence",
       [](const Value& v, CallArgs&) {
         return v.is_string() || v.is_list() || v.is_mapping() || v.is_undefined();
       }},
      {"iterable",
       [](const Value& v, CallArgs&) {
         return v.is_string() || v.is_list() || v.is_mapping() || v.is_undefined();
       }},
      {"callable", [](const Value& v, CallArgs&) { return v.is_callable(); }},
      {"sameas",
       [](const Value& v, CallArgs& a) {
         const Value& o = arg0(a, "sameas");
         if (v.kind() != o.kind()) return false;
         if (v.is_list()) return &v.items() == &o.items();
         if (v.is_dict()) return &v.dict_ref() == &o.dict_ref();
         return equals(v, o);
       }},
      {"eq", [](const Value& v, CallArgs& a) { return equals(v, arg0(a, "eq")); }},
      {"equalto", [](const Value& v, CallArgs& a) { return equals(v, arg0(a, "equalto")); }},
      {"==", [](const Value& v, CallArgs& a) { return equals(v, arg0(a, "==")); }},
      {"ne", [](const Value& v, CallArgs& a) { return !equals(v, arg0(a, "ne")); }},
      {"!=", [](const Value& v, CallArgs& a) { return !equals(v, arg0(a, "!=")); }},
      {"lt", [](const Value& v, CallArgs& a) { return less(v, arg0(a, "lt")); }},
      {"lessthan", [](const Value& v, CallArgs& a) { return less(v, arg0(a, "lessthan")); }},
      {"<", [](const Value& v, CallArgs& a) { return less(v, arg0(a, "<")); }},
      {"le", [](const Value& v, CallArgs& a) { return !less(arg0(a, "le"), v); }},
      {"<=", [](const Value& v, CallArgs& a) { return !less(arg0(a, "<="), v); }},
      {"gt", [](const Value& v, CallArgs& a) { return less(arg0(a, "gt"), v); }},
      {"greaterthan", [](const Value& v, CallArgs& a) { return less(arg0(a, "greaterthan"), v); }},
      {">", [](const Value& v, CallArgs& a) { return less(arg0(a, ">"), v); }},
      {"ge", [](const Value& v, CallArgs& a) { return !less(v, arg0(a, "ge")); }},
      {">=", [](const Value& v, CallArgs& a) { return !less(v, arg0(a, ">=")); }},
      {"in",
       [](const Value& v, CallArgs& a) {
         const Value& c = arg0(a, "in");
         if (c.is_string()) {
           if (!v.is_string()) type_error("'in <string>' requires string as left operand");
           return c.str().find(v.str()) != std::string::npos;
         }
         if (c.is_mapping()) return v.is_string() && c.dict_ref().find(v.str()) != nullptr;
         for (const Value& x : iterate(c)) {
           if (equals(x, v)) return true;
         }
         return false;
       }},
      {"even", [](const Value& v, CallArgs&) { return to_index(v, "even") % 2 == 0; }},
      {"odd", [](const Value& v, CallArgs&) { return to_index(v, "odd") % 2 != 0; }},
      {"divisibleby",
       [](const Value& v, CallArgs& a) {
         const int64_t d = to_index(arg0(a, "divisibleby"), "divisibleby");
         if (d == 0) type_error("divisibleby 0");
         return to_index(v, "divisibleby") % d == 0;
       }},
      {"lower",
       [](const Value& v, CallArgs&) {
         const std::string s = to_str(v);
         return map_cps(s, lower_cp) == s && map_cps(s, upper_cp) != s;
       }},
      {"upper",
       [](const Value& v, CallArgs&) {
         const std::string s = to_str(v);
         return map_cps(s, upper_cp) == s && map_cps(s, lower_cp) != s;
       }},
  };
  return m;
}

}  // namespace

bool has_filter(std::string_view name) {
  return filters().count(name) > 0;
}
bool has_test(std::string_view name) {
  return tests().count(name) > 0;
}

Value apply_filter(const std::string& name, const Value& subject, CallArgs& args) {
  auto it = filters().find(name);
  if (it == filters().end()) not_supported("the filter '" + name + "'");
  return it->second(subject, args);
}

bool apply_test(const std::string& name, const Value& subject, CallArgs& args) {
  auto it = tests().find(name);
  if (it == tests().end()) not_supported("the test '" + name + "'");
  return it->second(subject, args);
}

Value get_attr(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Value::Kind::kUndefined:
      type_error(obj.str().empty() ? "attribute '" + name + "' of an undefined value"
                                   : "'" + obj.str() + "' is undefined");
    case Value::Kind::kDict: {
      if (!obj.is_namespace()) {
        Value m = dict_method(obj, name);
        if (!m.is_undefined()) return m;
      }
      const Value* v = obj.dict_ref().find(name);
      return v ? *v : Value::undefined(name);
    }
    case Value::Kind::kString:
      return string_method(obj.str(), name);
    case Value::Kind::kList:
      return list_method(obj, name);
    default:
      return Value::undefined(name);
  }
}

Value get_item(const Value& obj, const Value& key) {
  switch (obj.kind()) {
    case Value::Kind::kUndefined:
      type_error(obj.str().empty() ? "indexing an undefined value"
                                   : "'" + obj.str() + "' is undefined");
    case Value::Kind::kDict: {
      if (key.is_string()) {
        if (const Value* v = obj.dict_ref().find(key.str())) return *v;
        return get_attr(obj, key.str());
      }
      return Value::undefined();
    }
    case Value::Kind::kList:
    case Value::Kind::kString: {
      if (!key.is_int()) return key.is_string() ? get_attr(obj, key.str()) : Value::undefined();
      int64_t i = key.as_int();
      if (obj.is_list()) {
        const auto n = static_cast<int64_t>(obj.items().size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) return Value::undefined();
        return obj.items()[static_cast<size_t>(i)];
      }
      const std::u32string u = to_u32(obj.str());
      const auto n = static_cast<int64_t>(u.size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return Value::undefined();
      return Value::string(from_u32(u.substr(static_cast<size_t>(i), 1)));
    }
    default:
      return key.is_string() ? get_attr(obj, key.str()) : Value::undefined();
  }
}

Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  if (obj.is_undefined())
    type_error(obj.str().empty() ? "slicing an undefined value"
                                 : "'" + obj.str() + "' is undefined");
  if (!obj.is_list() && !obj.is_string())
    type_error("'" + obj.type_name() + "' object is not subscriptable");
  const bool is_str = obj.is_string();
  std::u32string u;
  if (is_str) u = to_u32(obj.str());
  const int64_t n =
      is_str ? static_cast<int64_t>(u.size()) : static_cast<int64_t>(obj.items().size());
  auto opt = [](const Value& v) { return v.is_none() || v.is_undefined(); };
  const int64_t st = opt(step) ? 1 : to_index(step, "slice step");
  if (st == 0) type_error("slice step cannot be zero");
  auto adjust = [&](const Value& v, bool is_start) {
    if (opt(v)) return st > 0 ? (is_start ? 0 : n) : (is_start ? n - 1 : -1);
    int64_t i = to_index(v, "slice index");
    if (i < 0) {
      i += n;
      if (i < 0) i = st < 0 ? -1 : 0;
    } else if (i >= n) {
      i = st < 0 ? n - 1 : n;
    }
    return i;
  };
  const int64_t b = adjust(start, true), e = adjust(stop, false);
  List out;
  std::u32string s;
  for (int64_t i = b; st > 0 ? i < e : i > e; i += st) {
    if (is_str)
      s.push_back(u[static_cast<size_t>(i)]);
    else
      out.push_back(obj.items()[static_cast<size_t>(i)]);
  }
  return is_str ? Value::string(from_u32(s)) : Value::list(std::move(out));
}

List iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return {};
    case Value::Kind::kList:
      return v.items();
    case Value::Kind::kString: {
      List out;
      for (char32_t c : to_u32(v.str()))
        out.push_back(Value::string(from_u32(std::u32string(1, c))));
      return out;
    }
    case Value::Kind::kDict: {
      if (v.is_namespace()) type_error("'Namespace' object is not iterable");
      List out;
      for (const auto& [k, e] : v.dict_ref().entries) out.push_back(Value::string(k));
      return out;
    }
    default:
      type_error("'" + v.type_name() + "' object is not iterable");
  }
}

std::vector<std::pair<std::string, Value>> global_functions() {
  std::vector<std::pair<std::string, Value>> g;
  g.emplace_back("range", Value::callable("range", [](CallArgs& a) {
                   a.check("range", 3, {});
                   if (a.pos.empty()) type_error("range expected at least 1 argument");
                   int64_t start = 0, stop, step = 1;
                   if (a.pos.size() == 1) {
                     stop = to_index(a.pos[0], "range");
                   } else {
                     start = to_index(a.pos[0], "range");
                     stop = to_index(a.pos[1], "range");
                     if (a.pos.size() == 3) step = to_index(a.pos[2], "range");
                   }
                   if (step == 0) type_error("range() arg 3 must not be zero");
                   List out;
                   for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
                     if (out.size() >= kMaxRange)
                       type_error("range() longer than " + std::to_string(kMaxRange) + " items");
                     out.push_back(Value::integer(i));
                   }
                   return Value::list(std::move(out));
                 }));
  auto make_mapping = [](CallArgs& a, Value d, const char* fn) {
    if (a.pos.size() > 1) type_error(std::string(fn) + "() takes at most 1 positional argument");
    if (!a.pos.empty()) {
      if (!a.pos[0].is_mapping())
        type_error(std::string(fn) + "() positional argument must be a dict");
      for (const auto& [k, v] : a.pos[0].dict_ref().entries) d.dict_ref().set(k, v);
    }
    for (const auto& [k, v] : a.kw) d.dict_ref().set(k, v);
    return d;
  };
  g.emplace_back("namespace", Value::callable("namespace", [make_mapping](CallArgs& a) {
                   return make_mapping(a, Value::namespace_(), "namespace");
                 }));
  g.emplace_back("dict", Value::callable("dict", [make_mapping](CallArgs& a) {
                   return make_mapping(a, Value::dict(), "dict");
                 }));
  g.emplace_back("raise_exception", Value::callable("raise_exception", [](CallArgs& a) -> Value {
                   throw Error(ErrorCode::kInvalidArgument,
                               "the chat template raised an error: " + to_str(a.get(0, "message")));
                 }));
  g.emplace_back("strftime_now", Value::callable("strftime_now", [](CallArgs& a) {
                   a.check("strftime_now", 1, {});
                   const std::string fmt = to_str(a.get(0, "format"));
                   const std::time_t t = std::time(nullptr);
                   std::tm tm{};
                   localtime_r(&t, &tm);
                   char buf[256];
                   const size_t n = std::strftime(buf, sizeof(buf), fmt.c_str(), &tm);
                   return Value::string(std::string(buf, n));
                 }));
  return g;
}

}  // namespace dlx::jinja
