// The JSON Schema subset structured output supports, parsed into a tree the template compiler
// (json_schema_template.h) and the validator walk. Everything outside the subset is refused
// with Error kInvalidArgument naming the part by its JSON pointer, never silently ignored.
//
// Supported: objects with `properties` (every property is generated, in declaration order, so
// `required` always holds; `additionalProperties` is accepted and never used), strings
// (`minLength`, `maxLength`), integers (`minimum`, `maximum`, `exclusiveMinimum`,
// `exclusiveMaximum`), numbers (no bounds), booleans, null, `enum` and `const` (of any JSON
// values), fixed-length arrays (`items` with minItems == maxItems, or `prefixItems`), nesting.
// Annotations (title, description, default, examples, $schema, $id, $comment, deprecated,
// readOnly, writeOnly) are ignored.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dlx {

enum class SchemaKind { kObject, kArray, kString, kInteger, kNumber, kChoice };

// Limits of the subset (documented in the README).
struct SchemaLimits {
  static constexpr int kDefaultStringTokens = 16;  // string hole without maxLength
  static constexpr int kMaxStringTokens = 64;      // longest string hole
  static constexpr int kIntegerChars = 12;         // integer hole without bounds (one char each)
  static constexpr int kNumberChars = 16;          // number hole (one char each)
  static constexpr int kMaxArrayItems = 64;
  static constexpr int kMaxDepth = 32;
  static constexpr int kMaxValues = 256;  // holes plus fixed values in one schema
};

struct SchemaProperty;

struct SchemaNode {
  SchemaKind kind = SchemaKind::kChoice;
  std::string pointer;  // JSON pointer of this schema inside the document ("" = root)
  // kObject: name and value schema, in declaration order. (A struct, not std::pair: a pair of
  // an incomplete type is ill-formed, which clang's libstdc++ checks reject.)
  std::vector<SchemaProperty> properties;
  // kArray: one schema per element (the array's length is fixed).
  std::vector<SchemaNode> items;
  // kString: length in Unicode code points.
  int min_length = 0;
  std::optional<int> max_length;
  // kInteger: inclusive bounds (absent: what the hole's length allows).
  std::optional<int64_t> minimum, maximum;
  // kChoice: the value is one of these (enum, const, boolean true/false, null).
  std::vector<nlohmann::ordered_json> choices;
};

struct SchemaProperty {
  std::string name;
  SchemaNode schema;
};

// Parses `schema` (key order = declaration order). `where` prefixes error messages (e.g.
// "response_format.json_schema.schema"). Throws Error kInvalidArgument naming the part.
SchemaNode parse_json_schema(const nlohmann::ordered_json& schema, const std::string& where);

// Whether `value` is valid against `node`; when not, `why` says where and why.
bool schema_accepts(const SchemaNode& node, const nlohmann::ordered_json& value, std::string& why);

}  // namespace dlx
