#include "engine/decode/json_schema.h"

#include <cmath>
#include <set>

#include "engine/util/error.h"

namespace dlx {
namespace {

using ojson = nlohmann::ordered_json;

// Keywords that never change which values are valid.
const std::set<std::string>& annotation_keywords() {
  static const std::set<std::string> k = {"title",    "description", "default",  "examples",
                                          "$schema",  "$id",         "$comment", "deprecated",
                                          "readOnly", "writeOnly"};
  return k;
}

std::string escape_pointer_token(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

class Parser {
 public:
  explicit Parser(std::string where) : where_(std::move(where)) {}

  SchemaNode parse(const ojson& s, const std::string& ptr, int depth) {
    if (depth > SchemaLimits::kMaxDepth) {
      fail(ptr, "nesting deeper than " + std::to_string(SchemaLimits::kMaxDepth) +
                    " levels is not supported");
    }
    if (++values_ > SchemaLimits::kMaxValues) {
      fail(ptr, "more than " + std::to_string(SchemaLimits::kMaxValues) +
                    " values in one schema are not supported");
    }
    if (s.is_boolean()) {
      fail(ptr, "boolean schemas (true / false) are not supported: give a type");
    }
    if (!s.is_object()) {
      fail(ptr, "a schema must be a JSON object");
    }
    for (const char* k : {"$ref",
                          "$defs",
                          "definitions",
                          "oneOf",
                          "anyOf",
                          "allOf",
                          "not",
                          "if",
                          "then",
                          "else",
                          "pattern",
                          "format",
                          "patternProperties",
                          "multipleOf",
                          "uniqueItems",
                          "contains",
                          "propertyNames",
                          "dependentRequired",
                          "dependentSchemas",
                          "unevaluatedProperties",
                          "unevaluatedItems"}) {
      if (s.contains(k)) {
        fail(ptr + "/" + k, std::string("`") + k + "` is not supported");
      }
    }
    SchemaNode node;
    node.pointer = ptr;
    if (s.contains("enum") || s.contains("const")) {
      return parse_choice(s, ptr, depth);
    }
    const std::string type = type_of(s, ptr);
    if (type == "object") {
      parse_object(s, ptr, depth, node);
    } else if (type == "array") {
      parse_array(s, ptr, depth, node);
    } else if (type == "string") {
      parse_string(s, ptr, node);
    } else if (type == "integer") {
      parse_integer(s, ptr, node);
    } else if (type == "number") {
      only_keywords(s, ptr, {}, "number");
      node.kind = SchemaKind::kNumber;
    } else if (type == "boolean") {
      only_keywords(s, ptr, {}, "boolean");
      node.kind = SchemaKind::kChoice;
      node.choices = {ojson(true), ojson(false)};
    } else if (type == "null") {
      only_keywords(s, ptr, {}, "null");
      node.kind = SchemaKind::kChoice;
      node.choices = {ojson(nullptr)};
    } else {
      fail(ptr + "/type", "unknown type \"" + type + "\"");
    }
    return node;
  }

 private:
  [[noreturn]] void fail(const std::string& ptr, const std::string& msg) const {
    throw_invalid_argument(where_,
                           "schema " + (ptr.empty() ? std::string("(root)") : ptr) + ": " + msg);
  }

  std::string type_of(const ojson& s, const std::string& ptr) const {
    if (!s.contains("type")) {
      if (s.contains("properties")) {
        return "object";
      }
      fail(ptr, "needs a `type`, `enum` or `const`");
    }
    const ojson& t = s["type"];
    if (t.is_array() && t.size() == 1 && t[0].is_string()) {
      return t[0].get<std::string>();
    }
    if (t.is_array()) {
      fail(ptr + "/type", "type unions (a list of types) are not supported");
    }
    if (!t.is_string()) {
      fail(ptr + "/type", "must be a string");
    }
    return t.get<std::string>();
  }

  // Refuses every keyword outside `allowed` (and the annotations and "type").
  void only_keywords(const ojson& s, const std::string& ptr, const std::set<std::string>& allowed,
                     const std::string& what) const {
    for (const auto& [k, v] : s.items()) {
      if (k == "type" || allowed.count(k) || annotation_keywords().count(k)) {
        continue;
      }
      fail(ptr + "/" + escape_pointer_token(k),
           "`" + k + "` is not supported for " + what + " values");
    }
  }

  int non_negative_int(const ojson& s, const char* key, const std::string& ptr) const {
    const ojson& v = s[key];
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > (1 << 30)) {
      fail(ptr + "/" + key, "must be a non-negative integer");
    }
    return static_cast<int>(v.get<int64_t>());
  }

  int64_t integer_bound(const ojson& s, const char* key, const std::string& ptr) const {
    const ojson& v = s[key];
    constexpr double kLimit = 1e17;  // the hole holds at most 18 characters
    if (!v.is_number() || std::fabs(v.get<double>()) > kLimit) {
      fail(ptr + "/" + key, "must be a number between -1e17 and 1e17");
    }
    if (v.is_number_integer()) {
      return v.get<int64_t>();
    }
    const double d = v.get<double>();
    const bool lower = std::string(key).find("inimum") != std::string::npos;
    return static_cast<int64_t>(lower ? std::ceil(d) : std::floor(d));
  }

  SchemaNode parse_choice(const ojson& s, const std::string& ptr, int depth) {
    SchemaNode node;
    node.pointer = ptr;
    node.kind = SchemaKind::kChoice;
    if (s.contains("enum") && s.contains("const")) {
      fail(ptr, "give `enum` or `const`, not both");
    }
    if (s.contains("const")) {
      node.choices.push_back(s["const"]);
    } else {
      const ojson& e = s["enum"];
      if (!e.is_array() || e.empty()) {
        fail(ptr + "/enum", "must be a non-empty array");
      }
      for (const ojson& v : e) {
        bool dup = false;
        for (const ojson& c : node.choices) {
          dup = dup || c == v;
        }
        if (!dup) {
          node.choices.push_back(v);
        }
      }
    }
    // Other keywords (e.g. "type") must agree with every value: checked by parsing the schema
    // without enum / const and validating the values against it.
    ojson rest = s;
    rest.erase("enum");
    rest.erase("const");
    bool constrains = false;
    for (const auto& [k, v] : rest.items()) {
      constrains = constrains || !annotation_keywords().count(k);
    }
    if (constrains) {
      const SchemaNode base = parse(rest, ptr, depth);
      --values_;
      for (size_t i = 0; i < node.choices.size(); ++i) {
        std::string why;
        if (!schema_accepts(base, node.choices[i], why)) {
          fail(ptr + (s.contains("const") ? "/const" : "/enum/" + std::to_string(i)),
               "value " + node.choices[i].dump() +
                   " does not satisfy the schema's other keywords (" + why + ")");
        }
      }
    }
    return node;
  }

  void parse_object(const ojson& s, const std::string& ptr, int depth, SchemaNode& node) {
    only_keywords(s, ptr, {"properties", "required", "additionalProperties"}, "object");
    node.kind = SchemaKind::kObject;
    if (s.contains("additionalProperties") && !s["additionalProperties"].is_boolean() &&
        !s["additionalProperties"].is_object()) {
      fail(ptr + "/additionalProperties", "must be a boolean or a schema");
    }
    if (s.contains("properties")) {
      const ojson& props = s["properties"];
      if (!props.is_object()) {
        fail(ptr + "/properties", "must be an object");
      }
      for (const auto& [name, sub] : props.items()) {
        node.properties.push_back(SchemaProperty{
            name, parse(sub, ptr + "/properties/" + escape_pointer_token(name), depth + 1)});
      }
    }
    if (s.contains("required")) {
      const ojson& req = s["required"];
      if (!req.is_array()) {
        fail(ptr + "/required", "must be an array of property names");
      }
      for (size_t i = 0; i < req.size(); ++i) {
        bool known = false;
        for (const auto& p : node.properties) {
          known = known || (req[i].is_string() && p.name == req[i].get<std::string>());
        }
        if (!known) {
          fail(ptr + "/required/" + std::to_string(i),
               req[i].dump() +
                   " is not one of `properties` (only declared properties can be "
                   "generated)");
        }
      }
    }
  }

  void parse_array(const ojson& s, const std::string& ptr, int depth, SchemaNode& node) {
    only_keywords(s, ptr, {"items", "prefixItems", "minItems", "maxItems"}, "array");
    node.kind = SchemaKind::kArray;
    const bool has_min = s.contains("minItems"), has_max = s.contains("maxItems");
    const int min_items = has_min ? non_negative_int(s, "minItems", ptr) : 0;
    const int max_items = has_max ? non_negative_int(s, "maxItems", ptr) : -1;
    size_t prefix = 0;
    if (s.contains("prefixItems") && (!s["prefixItems"].is_array())) {
      fail(ptr + "/prefixItems", "must be an array of schemas");
    }
    if (s.contains("prefixItems")) {
      prefix = s["prefixItems"].size();
    }
    const bool items_false = s.contains("items") && s["items"].is_boolean() && !s["items"];
    if (s.contains("items") && s["items"].is_array()) {
      fail(ptr + "/items", "the array form of `items` is not supported: use `prefixItems`");
    }
    int length = -1;
    if (has_min && has_max && min_items == max_items) {
      length = min_items;
    } else if (prefix > 0 && (!s.contains("items") || items_false)) {
      length = static_cast<int>(prefix);
      if (min_items > length || (has_max && max_items < length)) {
        fail(ptr, "minItems / maxItems contradict prefixItems");
      }
    }
    if (length < 0) {
      fail(ptr,
           "variable-length arrays (minItems != maxItems) are not supported: give minItems "
           "== maxItems or prefixItems");
    }
    if (length > SchemaLimits::kMaxArrayItems) {
      fail(ptr + "/maxItems", "arrays longer than " + std::to_string(SchemaLimits::kMaxArrayItems) +
                                  " items are not supported");
    }
    if (static_cast<size_t>(length) < prefix && length != 0) {
      fail(ptr, "fewer items than prefixItems");
    }
    for (int i = 0; i < length; ++i) {
      if (static_cast<size_t>(i) < prefix) {
        node.items.push_back(
            parse(s["prefixItems"][i], ptr + "/prefixItems/" + std::to_string(i), depth + 1));
      } else if (s.contains("items") && !items_false) {
        // The same schema for every item: parsed once per item so each has its own pointer.
        node.items.push_back(parse(s["items"], ptr + "/items", depth + 1));
      } else {
        fail(ptr, "item " + std::to_string(i) + " has no schema (give `items`)");
      }
    }
  }

  void parse_string(const ojson& s, const std::string& ptr, SchemaNode& node) {
    only_keywords(s, ptr, {"minLength", "maxLength"}, "string");
    node.kind = SchemaKind::kString;
    if (s.contains("minLength")) {
      node.min_length = non_negative_int(s, "minLength", ptr);
      if (node.min_length > SchemaLimits::kMaxStringTokens) {
        fail(ptr + "/minLength",
             "above " + std::to_string(SchemaLimits::kMaxStringTokens) + " is not supported");
      }
    }
    if (s.contains("maxLength")) {
      node.max_length = non_negative_int(s, "maxLength", ptr);
      if (*node.max_length < node.min_length) {
        fail(ptr + "/maxLength", "is below minLength: no string satisfies the schema");
      }
    }
  }

  void parse_integer(const ojson& s, const std::string& ptr, SchemaNode& node) {
    only_keywords(s, ptr, {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"},
                  "integer");
    node.kind = SchemaKind::kInteger;
    auto tighten_min = [&](int64_t v) {
      node.minimum = node.minimum ? std::max(*node.minimum, v) : v;
    };
    auto tighten_max = [&](int64_t v) {
      node.maximum = node.maximum ? std::min(*node.maximum, v) : v;
    };
    if (s.contains("minimum")) {
      tighten_min(integer_bound(s, "minimum", ptr));
    }
    if (s.contains("maximum")) {
      tighten_max(integer_bound(s, "maximum", ptr));
    }
    if (s.contains("exclusiveMinimum")) {
      const ojson& v = s["exclusiveMinimum"];
      const int64_t b = integer_bound(s, "exclusiveMinimum", ptr);
      // An integral bound excludes itself; a fractional one was already rounded up.
      tighten_min(v.is_number_integer() || std::floor(v.get<double>()) == v.get<double>() ? b + 1
                                                                                          : b);
    }
    if (s.contains("exclusiveMaximum")) {
      const ojson& v = s["exclusiveMaximum"];
      const int64_t b = integer_bound(s, "exclusiveMaximum", ptr);
      tighten_max(v.is_number_integer() || std::floor(v.get<double>()) == v.get<double>() ? b - 1
                                                                                          : b);
    }
    if (node.minimum && node.maximum && *node.minimum > *node.maximum) {
      fail(ptr, "minimum is above maximum: no integer satisfies the schema");
    }
  }

  std::string where_;
  int values_ = 0;
};

size_t code_points(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) {
    n += (c & 0xC0) != 0x80;
  }
  return n;
}

}  // namespace

SchemaNode parse_json_schema(const nlohmann::ordered_json& schema, const std::string& where) {
  return Parser(where).parse(schema, "", 0);
}

bool schema_accepts(const SchemaNode& node, const nlohmann::ordered_json& value, std::string& why) {
  const std::string at = node.pointer.empty() ? "(root)" : node.pointer;
  switch (node.kind) {
    case SchemaKind::kObject: {
      if (!value.is_object()) {
        why = at + ": not an object";
        return false;
      }
      if (value.size() != node.properties.size()) {
        why = at + ": expected exactly the declared properties";
        return false;
      }
      for (const auto& [name, sub] : node.properties) {
        if (!value.contains(name)) {
          why = at + ": property \"" + name + "\" is missing";
          return false;
        }
        if (!schema_accepts(sub, value[name], why)) {
          return false;
        }
      }
      return true;
    }
    case SchemaKind::kArray: {
      if (!value.is_array() || value.size() != node.items.size()) {
        why = at + ": not an array of " + std::to_string(node.items.size()) + " items";
        return false;
      }
      for (size_t i = 0; i < node.items.size(); ++i) {
        if (!schema_accepts(node.items[i], value[i], why)) {
          return false;
        }
      }
      return true;
    }
    case SchemaKind::kString: {
      if (!value.is_string()) {
        why = at + ": not a string";
        return false;
      }
      const size_t n = code_points(value.get_ref<const std::string&>());
      if (n < static_cast<size_t>(node.min_length) ||
          (node.max_length && n > static_cast<size_t>(*node.max_length))) {
        why = at + ": string length " + std::to_string(n) + " outside minLength / maxLength";
        return false;
      }
      return true;
    }
    case SchemaKind::kInteger: {
      const bool integral =
          value.is_number_integer() ||
          (value.is_number_float() && std::floor(value.get<double>()) == value.get<double>());
      if (!integral) {
        why = at + ": not an integer";
        return false;
      }
      // Integers compare exactly; an integral float (1.0) through double.
      const bool big = value.is_number_unsigned() && value.get<uint64_t>() > (uint64_t{1} << 62);
      const bool below =
          node.minimum && (value.is_number_integer() && !big
                               ? value.get<int64_t>() < *node.minimum
                               : value.get<double>() < static_cast<double>(*node.minimum));
      const bool above =
          node.maximum && (big || (value.is_number_integer()
                                       ? value.get<int64_t>() > *node.maximum
                                       : value.get<double>() > static_cast<double>(*node.maximum)));
      if (below || above) {
        why = at + ": " + value.dump() + " outside minimum / maximum";
        return false;
      }
      return true;
    }
    case SchemaKind::kNumber:
      if (!value.is_number()) {
        why = at + ": not a number";
        return false;
      }
      return true;
    case SchemaKind::kChoice:
      for (const auto& c : node.choices) {
        if (c == value) {
          return true;
        }
      }
      why = at + ": " + value.dump() + " is not one of the allowed values";
      return false;
  }
  return false;
}

}  // namespace dlx
