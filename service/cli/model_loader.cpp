#include "service/cli/model_loader.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "engine/util/error.h"

namespace dlx::cli {
namespace {

// The demo model trained by tools/train_demo_model.py and committed under models/.
constexpr const char* kDefaultModelName = "dlx-demo-llada";

}  // namespace

const std::set<std::string>& model_options() {
  static const std::set<std::string> opts = {"model", "weights", "device", "threads", "precision"};
  return opts;
}

std::string default_model_dir() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("DIFFULEX_MODEL"); env && *env) return env;
  std::vector<fs::path> candidates;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(exe.parent_path().parent_path() / "share/diffulex/models" /
                         kDefaultModelName);
  }
  candidates.push_back(fs::path(DLX_SOURCE_MODELS_DIR) / kDefaultModelName);
  std::string tried;
  for (const fs::path& c : candidates) {
    if (fs::is_regular_file(c / "config.json", ec)) return c.string();
    tried += (tried.empty() ? "" : ", ") + c.string();
  }
  throw Error(ErrorCode::kNotFound,
              "no model given and the bundled demo model is not at " + tried +
                  ": pass --model DIR or set DIFFULEX_MODEL",
              "model");
}

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string program_cache_dir() {
  const std::string dir = env("DIFFULEX_CL_CACHE_DIR");
  if (dir == "off") return {};
  if (!dir.empty()) return dir;
  if (const std::string xdg = env("XDG_CACHE_HOME"); !xdg.empty()) return xdg + "/diffulex/opencl";
  if (const std::string home = env("HOME"); !home.empty()) return home + "/.cache/diffulex/opencl";
  return {};
}

}  // namespace

EngineOptions engine_options(const std::string& device, int threads) {
  EngineOptions eo;
  eo.device = device;
  eo.threads = threads;
  eo.opencl.weights = env("DIFFULEX_OPENCL_WEIGHTS");
  eo.opencl.kernels_dir = env("DIFFULEX_KERNELS_DIR");
  eo.opencl.cache_dir = program_cache_dir();
  return eo;
}

Engine engine_from_args(const Args& a) {
  const int64_t threads = a.integer("threads", 0);
  if (threads < 0) throw UsageError("--threads must be >= 0 (0 = all cores)");
  return Engine(engine_options(a.str("device", "auto"), static_cast<int>(threads)));
}

std::shared_ptr<const LoadedModel> load_model_from_args(Engine& engine, const Args& a,
                                                        bool need_tokenizer,
                                                        const char* default_precision) {
  const std::string dir = a.has("model") ? a.str("model") : default_model_dir();
  ModelLoadOptions lo;
  lo.weights = a.str("weights");
  lo.precision = parse_precision(a.str("precision", default_precision));
  lo.need_tokenizer = need_tokenizer;
  auto lm = engine.load(dir, lo);
  if (!lm->fallback_note.empty()) {
    std::fprintf(stderr, "diffulex: falling back to CPU: %s\n", lm->fallback_note.c_str());
  }
  return lm;
}

}  // namespace dlx::cli
