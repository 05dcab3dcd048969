// `diffulex infill`: fill the gap between a prefix and a suffix (README: Infill). The answer is
// the middle, as POST /v1/infill gives it.
#include <iostream>

#include "engine/decode/template_text.h"
#include "service/cli/args.h"
#include "service/cli/commands.h"
#include "service/cli/decode_flags.h"
#include "service/cli/model_loader.h"
#include "service/cli/template_run.h"

namespace dlx::cli {

int cmd_infill(int argc, char** argv, int first) {
  std::set<std::string> options = model_options();
  options.insert(decode_flag_options().begin(), decode_flag_options().end());
  options.insert({"prefix", "suffix", "length", "min-length"});
  Args a(argc, argv, first, options, {"help", "json", "trace"});
  if (a.flag("help")) {
    std::cout << "usage: diffulex infill [--model DIR] --prefix TEXT --suffix TEXT --length N\n"
                 "       [--min-length K] [--json] [--trace] [--KEY VALUE ...]\n"
                 "Fills a hole of N tokens between prefix and suffix and prints the middle.\n"
                 "--min-length K < N: a variable hole (the model may end it after K tokens).\n"
                 "decoding keys (README: Decoding):";
    std::cout << decode_flags_help() << "\n";
    return 0;
  }
  const int n = static_cast<int>(parse_int("length", a.required("length")));
  if (n < 1 || n > kMaxHoleTokens) {
    throw UsageError("--length: must lie in 1.." + std::to_string(kMaxHoleTokens));
  }
  const int min_n =
      a.has("min-length") ? static_cast<int>(parse_int("min-length", a.str("min-length"))) : n;
  if (min_n < 0 || min_n > n) throw UsageError("--min-length: must lie in 0..--length");
  CanvasTemplate t;
  t.parts.push_back(CanvasPart::fixed(a.str("prefix")));
  t.parts.push_back(CanvasPart::hole_range(min_n, n));
  const std::string suffix = a.str("suffix");
  if (!suffix.empty()) t.parts.push_back(CanvasPart::fixed(suffix));
  return run_template(a, t, /*text_from_middle=*/true);
}

}  // namespace dlx::cli
