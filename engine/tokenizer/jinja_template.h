// jinja::Template: a parsed chat template and its renderer (statements, expressions, scoping
// with Jinja2's rules: for-loops and macros open a scope, if-blocks do not).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/tokenizer/jinja_ast.h"

namespace dlx::jinja {

class Template {
 public:
  // Parses source; throws Error (kInvalidModel syntax / kUnsupported construct) with the line.
  explicit Template(std::string_view source);

  // Renders with the builtin globals plus vars (which may shadow them). Throws Error with the
  // template line: kInvalidArgument for runtime errors and raise_exception(), kUnsupported
  // for unsupported operations.
  std::string render(const std::vector<std::pair<std::string, Value>>& vars) const;

 private:
  Body body_;
};

}  // namespace dlx::jinja
