// Structured output: a parsed schema (json_schema.h) compiled to a canvas template
// (canvas_template.h) whose fixed text is the serialised skeleton (braces, keys, quotes,
// commas) and whose holes are the values, each with a TokenConstraint (json_constraints.h), and
// the check every result passes before it is returned.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/decode/canvas_template.h"
#include "engine/decode/json_schema.h"
#include "engine/decode/json_token_classes.h"

namespace dlx {

// The skeleton is written as {"key": value, "key2": value2} and [a, b]; a string value is
// "<hole>", a number or integer a hole of one character per position, an enum / boolean a hole
// that can only become one of its values, a const / null / single-valued enum fixed text.
// Throws Error kUnsupported when the tokenizer cannot express a value (e.g. no digit tokens).
CanvasTemplate compile_schema_template(const SchemaNode& schema, const Tokenizer& tok,
                                       const std::shared_ptr<const JsonTokenClasses>& classes);

// Parses `text` and validates it against `schema`; returns the parsed value. A failure is a bug
// in the constraints (the holes cannot produce invalid values): Error kInternal naming it.
nlohmann::ordered_json check_structured_output(const std::string& text, const SchemaNode& schema);

}  // namespace dlx
