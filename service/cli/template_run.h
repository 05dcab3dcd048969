// Templates on the command line (README: Infill): `diffulex infill` (prefix + hole + suffix)
// and `diffulex generate --template FILE` run one template with the decoding flags of
// `generate`, printing what the HTTP API answers: the text as it becomes final, or with
// --json one object with "text", "holes" and the usual statistics.
#pragma once

#include "engine/decode/canvas_template.h"
#include "service/cli/args.h"

namespace dlx::cli {

// `text_from_middle`: infill answers with its hole only (the suffix is left out of the text).
int run_template(const Args& a, const CanvasTemplate& t, bool text_from_middle);

// FILE: a JSON array as the HTTP `template` (first non-blank byte '['), else text with
// [___] hole markers (engine/decode/template_text.h). "-" reads stdin.
CanvasTemplate read_template_file(const std::string& path);

}  // namespace dlx::cli
