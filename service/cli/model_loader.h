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
};

// The options load_model_from_args reads.
const std::set<std::string>& model_options();
LoadedModel load_model_from_args(const Args& a, bool need_tokenizer);

}  // namespace dlx::cli
