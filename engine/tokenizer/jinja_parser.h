// jinja::parse: tokens -> syntax tree, with Jinja2's grammar and operator precedence. Filters
// and tests are checked against the ones we implement, so an unsupported construct fails when
// the template is parsed, before anything is rendered.
#pragma once

#include <string_view>

#include "engine/tokenizer/jinja_ast.h"

namespace dlx::jinja {

// Throws Error kInvalidModel for syntax errors and kUnsupported for constructs we do not
// implement, both as "chat template line N: ...".
Body parse(std::string_view source);

}  // namespace dlx::jinja
