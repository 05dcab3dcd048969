#include "service/cli/model_loader.h"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "engine/backend/backend_factory.h"
#include "engine/util/error.h"

namespace dlx::cli {

const std::set<std::string>& model_options() {
  static const std::set<std::string> opts = {"model", "weights", "device", "threads"};
  return opts;
}

LoadedModel load_model_from_args(const Args& a, bool need_tokenizer) {
  const std::string dir = a.required("model");
  const int64_t threads = a.integer("threads", 0);
  if (threads < 0) throw UsageError("--threads must be >= 0 (0 = all cores)");
  const auto t0 = std::chrono::steady_clock::now();
  std::string note;
  auto backend = make_backend(a.str("device", "auto"), static_cast<int>(threads), &note);
  LoadOptions lo;
  lo.weights = a.str("weights");
  LoadedModel out;
  out.model = load_with_fallback(backend, static_cast<int>(threads), &note,
                                 [&](std::shared_ptr<Backend> b) { return Model::load(dir, b, lo); });
  if (!note.empty()) std::fprintf(stderr, "diffulex: falling back to CPU: %s\n", note.c_str());
  if (std::filesystem::exists(std::filesystem::path(dir) / "tokenizer.json")) {
    out.tokenizer = Tokenizer::load(dir);
  } else if (need_tokenizer) {
    throw Error(ErrorCode::kNotFound, dir + ": no tokenizer.json, so text prompts cannot be "
                                            "used (pass --prompt-ids)");
  }
  out.load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace dlx::cli
