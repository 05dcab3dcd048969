// Templates written down: the JSON array the HTTP API and `generate --template FILE` take, and
// text with hole markers (the playground's and the CLI's plain-text form). README: Infill.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "engine/decode/canvas_template.h"

namespace dlx {

// The most positions one hole may have (canvas length and admission control apply as well).
constexpr int kMaxHoleTokens = 1 << 16;

// [{"text": STRING} | {"hole": N} | {"hole": {"min": A, "max": B}}, ...], each part optionally
// with a "name". A defaults to 0 (the hole may stay empty); max >= 1. At least one hole.
// Throws Error kInvalidArgument naming the part ("template[3].hole.max").
CanvasTemplate template_from_json(const nlohmann::json& v);

// Text with holes: "[___]" is a hole of as many tokens as underscores, "[___:N]" one of N
// tokens, "[___:A-B]" a variable hole of A to B tokens (at least one underscore each time).
// Everything else is fixed text; "[[" is a literal "[". Throws Error kInvalidArgument
// ("template") for a malformed marker or a text without holes.
CanvasTemplate template_from_markers(std::string_view text);

}  // namespace dlx
