// jinja::Template: a parsed chat template and its renderer (statements, expressions, scoping
// with Jinja2's rules: for-loops and macros open a scope, if-blocks do not).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/tokenizer/jinja_ast.h"
#include "engine/tokenizer/render_limits.h"

namespace dlx::jinja {

class Template {
 public:
  // Parses source; throws Error (kInvalidModel syntax / kUnsupported construct) with the line.
  explicit Template(std::string_view source);

  // Renders with the builtin globals plus vars (which may shadow them). Throws Error with the
  // template line: kInvalidArgument for runtime errors, raise_exception() and a spent budget
  // (param "messages"), kUnsupported for unsupported operations, kCancelled from the interrupt.
  std::string render(const std::vector<std::pair<std::string, Value>>& vars,
                     const RenderLimits& limits = {}) const;

 private:
  Body body_;
};

}  // namespace dlx::jinja
