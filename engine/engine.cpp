#include "engine/engine.h"

#include <filesystem>
#include <map>

#include "engine/backend/backend_factory.h"
#include "engine/formats/gguf.h"
#include "engine/formats/safetensors.h"
#include "engine/model/gguf_model.h"
#include "engine/model/model_config.h"
#include "engine/tokenizer/gguf_tokenizer.h"
#include "engine/util/error.h"
#include "engine/util/json_parse.h"
#include "engine/util/mapped_file.h"

namespace dlx {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

// A model is a Hugging Face folder or a GGUF file.
fs::path model_path(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec) && !is_gguf_model_path(path)) {
    throw Error(ErrorCode::kNotFound,
                path + (fs::is_regular_file(path, ec) ? ": not a GGUF file" : ": not found") +
                    " (a model is a folder with config.json and *.safetensors, or a .gguf file)",
                "model");
  }
  return fs::canonical(path);
}

// The dtype holding most weight bytes, and the parameter count.
void weight_summary(const WeightSource& store, ModelInfo* info) {
  std::map<DType, uint64_t> bytes_by_dtype;
  for (const auto& [name, t] : store.all()) {
    info->parameters += t->numel();
    bytes_by_dtype[t->dtype] += t->nbytes;
  }
  DType dtype = DType::kF32;
  uint64_t most = 0;
  for (const auto& [d, n] : bytes_by_dtype) {
    if (n > most) most = n, dtype = d;
  }
  info->dtype = dtype_name(dtype);
}

ModelInfo describe_gguf(const fs::path& file) {
  auto f = std::make_shared<GgufFile>(file.string());
  const ModelConfig cfg = gguf_model_config(*f);
  ModelInfo info;
  // From the file's tensor infos (nothing is read or converted): "q4_K" for a Q4_K_M file.
  std::map<std::string, uint64_t> bytes_by_type;
  for (const GgufTensorInfo& t : f->tensors()) {
    int64_t n = 1;
    for (int64_t d : t.ne) n *= d;
    info.parameters += n;
    bytes_by_type[ggml_type_info(t.ggml_type)->name] += t.nbytes;
  }
  uint64_t most = 0;
  for (const auto& [type, n] : bytes_by_type) {
    if (n > most) most = n, info.dtype = type;
  }
  info.path = file.string();
  info.format = "gguf";
  info.family = cfg.family_name();
  info.file_bytes = f->file_size();
  info.max_positions = cfg.max_positions;
  info.vocab = cfg.vocab;
  info.has_tokenizer = gguf_has_tokenizer(*f);
  info.has_chat_template = gguf_has_chat_template(*f);
  info.config_json = gguf_config_json(*f).dump();
  info.decoding = default_decode_params(cfg);
  return info;
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
  const fs::path dir = model_path(path);
  if (!fs::is_directory(dir)) return describe_gguf(dir);
  const ModelConfig cfg = load_model_config(dir.string());
  const TensorStore store = TensorStore::open(dir.string());
  ModelInfo info;
  weight_summary(store, &info);
  std::error_code ec;
  info.path = dir.string();
  info.format = "safetensors";
  info.family = cfg.family_name();
  info.file_bytes = store.total_bytes();
  info.max_positions = cfg.max_positions;
  info.vocab = cfg.vocab;
  info.has_tokenizer = fs::is_regular_file(dir / "tokenizer.json", ec);
  info.has_chat_template = info.has_tokenizer && folder_has_chat_template(dir);
  info.config_json = read_text_file((dir / "config.json").string());
  info.decoding = default_decode_params(cfg);
  return info;
}

std::shared_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  if (is_gguf_model_path(path)) {
    GgufFile f(path);
    if (!gguf_has_tokenizer(f)) {
      throw Error(ErrorCode::kNotFound, path + ": this GGUF file has no tokenizer", "tokenizer");
    }
    return load_gguf_tokenizer(f);
  }
  return Tokenizer::load(path);
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
    throw Error(
        ErrorCode::kNotFound,
        dir +
            ": no tokenizer (tokenizer.json, or tokenizer keys in a GGUF file), so text prompts "
            "cannot be used (pass --prompt-ids)",
        "model");
  }
  LoadOptions lo;
  lo.weights = opts.weights;
  lo.precision = opts.precision;
  std::string note = backend_note();
  if (out->info.format == "gguf") {
    if (!opts.weights.empty()) {
      throw Error(ErrorCode::kInvalidArgument,
                  "weights: a GGUF file holds its own weights (--weights is for model folders)",
                  "weights");
    }
    auto file = std::make_shared<GgufFile>(dir);
    const ModelConfig cfg = gguf_model_config(*file);
    out->name = fs::path(dir).stem().string();  // "model.q4_0.gguf" -> "model.q4_0"
    out->model =
        load_with_fallback(backend(), opts_.threads, &note, [&](std::shared_ptr<Backend> b) {
          return Model::create(cfg, gguf_weight_source(file, cfg), std::move(b), lo);
        });
    if (out->info.has_tokenizer) out->tokenizer = load_gguf_tokenizer(*file);
    file->release_metadata();  // only the mapped tensors are needed from here on
  } else {
    out->model = load_with_fallback(
        backend(), opts_.threads, &note,
        [&](std::shared_ptr<Backend> b) { return Model::load(dir, std::move(b), lo); });
    if (out->info.has_tokenizer) out->tokenizer = Tokenizer::load(dir);
  }
  out->fallback_note = note;
  out->load_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  return out;
}

}  // namespace dlx
