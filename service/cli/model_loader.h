// The CLI edge of the engine API: --model, --weights, --precision, --device and --threads
// (and DIFFULEX_MODEL) turned into EngineOptions / ModelLoadOptions, read once here.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "engine/engine.h"
#include "service/cli/args.h"

namespace dlx::cli {

// The engine's options from a device, a thread count and the environment: DIFFULEX_OPENCL_WEIGHTS,
// DIFFULEX_KERNELS_DIR and DIFFULEX_CL_CACHE_DIR (default $XDG_CACHE_HOME/diffulex/opencl, else
// ~/.cache/diffulex/opencl; "off" = no cache). The only place the engine's settings come from
// the environment.
EngineOptions engine_options(const std::string& device, int threads);
// The engine a command runs on: --device and --threads (the CLI edge of EngineOptions).
Engine engine_from_args(const Args& a);
// --model DIR (or the default model) loaded on `engine` with --weights and --precision
// (`default_precision` when not given); the OpenCL-to-CPU fallback is reported on stderr.
std::shared_ptr<const LoadedModel> load_model_from_args(Engine& engine, const Args& a,
                                                        bool need_tokenizer,
                                                        const char* default_precision = "auto");
// The options engine_from_args and load_model_from_args read.
const std::set<std::string>& model_options();

// The folder commands use when no --model is given: $DIFFULEX_MODEL if set, else the bundled
// demo model (models/dlx-demo-llada) next to the executable once installed
// (<prefix>/share/diffulex/models/...) or in the source tree it was built from. Throws Error
// kNotFound, naming --model and DIFFULEX_MODEL, when none exists.
std::string default_model_dir();

}  // namespace dlx::cli
