// Loading a model (and its tokenizer) the way every CLI command does: --model, --weights,
// --device, --threads, with the OpenCL-to-CPU fallback reported on stderr.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "service/cli/args.h"

namespace dlx::cli {

struct LoadedModel {
  std::shared_ptr<Model> model;
  std::shared_ptr<Tokenizer> tokenizer;  // null when the folder has no tokenizer.json
  double load_ms = 0;
  std::string dir;  // the model folder (--model, or the default)
};

// The options load_model_from_args reads.
const std::set<std::string>& model_options();
// --model DIR, or the default model when --model is absent.
LoadedModel load_model_from_args(const Args& a, bool need_tokenizer);

// The folder commands use when no --model is given: $DIFFULEX_MODEL if set, else the bundled
// demo model (models/dlx-demo-llada) next to the executable once installed
// (<prefix>/share/diffulex/models/...) or in the source tree it was built from. Throws Error
// kNotFound, naming --model and DIFFULEX_MODEL, when none exists.
std::string default_model_dir();

}  // namespace dlx::cli
