#include "engine/engine.h"

#include <filesystem>
#include <map>

#include "engine/backend/backend_factory.h"
#include "engine/formats/safetensors.h"
#include "engine/model/model_config.h"
#include "engine/util/error.h"
#include "engine/util/json_parse.h"
#include "engine/util/mapped_file.h"

namespace dlx {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

// A model is a Hugging Face folder today; a single-file format plugs in here.
fs::path model_folder(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    throw Error(ErrorCode::kNotFound,
                path +
                    ": not a model folder (expected a folder with config.json and "
                    "*.safetensors)",
                "model");
  }
  return fs::canonical(path);
}

// Whether the folder's tokenizer has a chat template (chat_template.jinja, or a non-empty
// chat_template in tokenizer_config.json), without loading the vocabulary. A file that does
// not parse says no here; loading the tokenizer reports it.
bool folder_has_chat_template(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_regular_file(dir / "chat_template.jinja", ec)) return true;
  if (!fs::is_regular_file(dir / "tokenizer_config.json", ec)) return false;
  try {
    const nlohmann::json cfg =
        parse_json_limited(read_text_file((dir / "tokenizer_config.json").string()),
                           "tokenizer_config.json", ErrorCode::kInvalidModel);
    const auto it = cfg.find("chat_template");
    if (it == cfg.end()) return false;
    if (it->is_string()) return !it->get_ref<const std::string&>().empty();
    return it->is_array() && !it->empty();  // named templates ({"name", "template"} list)
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

ModelInfo describe_model(const std::string& path) {
  const fs::path dir = model_folder(path);
  const ModelConfig cfg = load_model_config(dir.string());
  const TensorStore store = TensorStore::open(dir.string());
  ModelInfo info;
  std::map<DType, uint64_t> bytes_by_dtype;
  for (const auto& [name, t] : store.all()) {
    info.parameters += t->numel();
    bytes_by_dtype[t->dtype] += t->nbytes;
  }
  DType dtype = DType::kF32;
  uint64_t most = 0;
  for (const auto& [d, n] : bytes_by_dtype) {
    if (n > most) most = n, dtype = d;
  }
  std::error_code ec;
  info.path = dir.string();
  info.format = "safetensors";
  info.family = cfg.family_name();
  info.dtype = dtype_name(dtype);
  info.file_bytes = store.total_bytes();
  info.max_positions = cfg.max_positions;
  info.vocab = cfg.vocab;
  info.has_tokenizer = fs::is_regular_file(dir / "tokenizer.json", ec);
  info.has_chat_template = info.has_tokenizer && folder_has_chat_template(dir);
  info.config_json = read_text_file((dir / "config.json").string());
  info.decoding = default_decode_params(cfg);
  return info;
}

Engine::Engine(EngineOptions opts) : opts_(std::move(opts)) {
  if (opts_.threads < 0) {
    throw Error(ErrorCode::kInvalidArgument, "threads: must be >= 0 (0 = all cores)", "threads");
  }
}

std::shared_ptr<Backend> Engine::backend() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!backend_) backend_ = make_backend(opts_.device, opts_.threads, &note_, opts_.opencl);
  return backend_;
}

std::string Engine::backend_note() {
  backend();
  std::lock_guard<std::mutex> lock(mu_);
  return note_;
}

std::shared_ptr<const LoadedModel> Engine::load(const std::string& path,
                                                const ModelLoadOptions& opts) {
  const auto t0 = Clock::now();
  auto out = std::make_shared<LoadedModel>();
  out->info = describe_model(path);
  const std::string& dir = out->info.path;
  out->name = fs::path(dir).filename().string();
  if (opts.need_tokenizer && !out->info.has_tokenizer) {
    throw Error(ErrorCode::kNotFound,
                dir + ": no tokenizer.json, so text prompts cannot be used (pass --prompt-ids)",
                "model");
  }
  LoadOptions lo;
  lo.weights = opts.weights;
  lo.precision = opts.precision;
  std::string note = backend_note();
  out->model = load_with_fallback(backend(), opts_.threads, &note, [&](std::shared_ptr<Backend> b) {
    return Model::load(dir, std::move(b), lo);
  });
  out->fallback_note = note;
  if (out->info.has_tokenizer) out->tokenizer = Tokenizer::load(dir);
  out->load_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  return out;
}

}  // namespace dlx
