// The filters, tests, attribute/method lookups and global functions our Jinja interpreter
// implements, with Jinja2 (ImmutableSandboxedEnvironment) and transformers semantics.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/tokenizer/jinja_value.h"

namespace dlx::jinja {

bool has_filter(std::string_view name);
bool has_test(std::string_view name);

Value apply_filter(const std::string& name, const Value& subject, CallArgs& args);
bool apply_test(const std::string& name, const Value& subject, CallArgs& args);

// obj.name: dict keys, namespace attributes, and the methods of str / dict (bound).
Value get_attr(const Value& obj, const std::string& name);
// obj[key]: dict keys, list and str indices (negative from the end); undefined when absent.
Value get_item(const Value& obj, const Value& key);
// obj[start:stop:step] with Python's index rules, for lists and strings.
Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step);
// What a for-loop iterates: list items, dict keys, str characters; nothing for undefined.
List iterate(const Value& v);

// range, namespace, dict, raise_exception, strftime_now.
std::vector<std::pair<std::string, Value>> global_functions();

}  // namespace dlx::jinja
