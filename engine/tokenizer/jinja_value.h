// jinja::Value: the dynamic values a chat template computes with, following Python/Jinja2
// semantics (undefined, None, bool, int, float, str, list, dict, namespace, callable), with
// Python's str()/repr()/==/< and transformers' tojson (json.dumps) formatting.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dlx::jinja {

class Value;
using List = std::vector<Value>;
struct Dict;
struct CallArgs;
using NativeFn = std::function<Value(CallArgs&)>;

class Value {
 public:
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kCallable };

  Value() = default;  // undefined
  static Value undefined(std::string name = {});
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double d);
  static Value string(std::string s);
  static Value list(List items = {});
  static Value tuple(List items);  // a list that prints as (a, b) and is != the same list
  static Value dict();             // an empty ordered dict
  static Value namespace_();
  static Value callable(std::string name, NativeFn fn);
  static Value from_json(const nlohmann::ordered_json& j);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt || kind_ == Kind::kBool; }  // bool is an int
  bool is_number() const {
    return kind_ == Kind::kInt || kind_ == Kind::kFloat || kind_ == Kind::kBool;
  }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_list() const { return kind_ == Kind::kList; }  // includes tuples
  bool is_tuple() const { return kind_ == Kind::kList && tuple_; }
  bool is_dict() const { return kind_ == Kind::kDict; }  // includes namespaces
  bool is_namespace() const;
  bool is_mapping() const { return is_dict() && !is_namespace(); }
  bool is_callable() const { return kind_ == Kind::kCallable; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return kind_ == Kind::kBool ? (b_ ? 1 : 0) : i_; }
  double as_double() const;
  const std::string& str() const { return s_; }  // the string, or an undefined value's name
  const List& items() const { return *list_; }
  List& items() { return *list_; }
  const Dict& dict_ref() const { return *dict_; }
  Dict& dict_ref() { return *dict_; }
  const std::string& callable_name() const;
  Value call(CallArgs& args) const;

  bool truthy() const;
  std::string type_name() const;  // Python's type name, for error messages

 private:
  Kind kind_ = Kind::kUndefined;
  bool b_ = false;
  bool tuple_ = false;
  int64_t i_ = 0;
  double f_ = 0;
  std::string s_;
  std::shared_ptr<List> list_;
  std::shared_ptr<Dict> dict_;
  struct Fn {
    std::string name;
    NativeFn fn;
  };
  std::shared_ptr<Fn> fn_;
};

// A Python dict: insertion-ordered string keys. Namespaces (namespace()) are dicts whose
// entries are attributes and may be assigned with {% set ns.x = ... %}.
struct Dict {
  std::vector<std::pair<std::string, Value>> entries;
  bool is_namespace = false;
  const Value* find(std::string_view key) const;
  void set(const std::string& key, Value v);
};

// Positional and keyword arguments of a call, filter or test.
struct CallArgs {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
  // Argument `index` / `name`, or fallback when not given.
  Value get(size_t index, std::string_view name, Value fallback = Value()) const;
  // Throws when a keyword other than `allowed` or more than max_pos positionals are passed.
  void check(std::string_view fn, size_t max_pos,
             std::initializer_list<std::string_view> allowed) const;
};

// Nesting a template may print, compare or serialize: a list in a list ... this deep, or a value
// that contains itself ({% do x.append(x) %}), is an error naming `messages`, not a stack
// overflow. (Template variables from JSON nest at most 512 levels.)
inline constexpr int kMaxValueDepth = 1000;

// Every list, dict and namespace created on this thread while a ContainerScope lives (one per
// render) is also held by the scope; its end empties each of them before freeing any. That
// breaks the reference cycles a template can make (x.append(x), ns.self = ns), which would
// otherwise leak, and frees arbitrarily deep nesting ([[[...]]] built in a loop) one level at a
// time instead of by recursive destructors that overflow the stack. Containers only the scope
// still holds are dropped as it grows, so it keeps about what the template keeps.
class ContainerScope {
 public:
  ContainerScope();
  ~ContainerScope();
  ContainerScope(const ContainerScope&) = delete;
  ContainerScope& operator=(const ContainerScope&) = delete;

  // The innermost scope of this thread (nullptr outside a render).
  static ContainerScope* current();
  void add(const std::shared_ptr<List>& l);
  void add(const std::shared_ptr<Dict>& d);

 private:
  void compact_if_due();
  std::vector<std::shared_ptr<List>> lists_;
  std::vector<std::shared_ptr<Dict>> dicts_;
  size_t compact_at_ = 4096;
  ContainerScope* outer_;
};

// Any one string or list a template builds is at most this big (chat templates are
// semi-trusted input: a model folder's file, rendered on the HTTP thread). Checked before the
// value is built where its size is known up front (repetition, indent), else as it grows.
inline constexpr uint64_t kMaxStringBytes = 16u << 20;
inline constexpr uint64_t kMaxListItems = 1u << 20;
// Throw Error kInvalidArgument naming `op` when n exceeds the cap.
void check_string_size(uint64_t n, std::string_view op);
void check_list_size(uint64_t n, std::string_view op);

// Python str(v): what {{ v }} prints ("" for undefined, "None", "True", "[1, 'a']", ...).
std::string to_str(const Value& v);
// Python repr(v).
std::string repr(const Value& v);
// Python repr of a float ("1.0", "0.1", "1e+16").
std::string float_repr(double d);
// json.dumps(v, ensure_ascii, indent (<0: none), separators, sort_keys) as transformers'
// tojson filter calls it. Throws for values JSON cannot hold (undefined, callables).
struct JsonOptions {
  bool ensure_ascii = false;
  int indent = -1;
  std::string item_sep, key_sep;  // empty: Python's defaults for the indent
  bool sort_keys = false;
};
std::string to_json(const Value& v, const JsonOptions& opts);

// Python ==, and < (throws Error for unorderable types).
bool equals(const Value& a, const Value& b);
bool less(const Value& a, const Value& b);

// Code points <-> UTF-8, for Python's per-character string semantics.
std::u32string to_u32(std::string_view s);
std::string from_u32(std::u32string_view s);

}  // namespace dlx::jinja
