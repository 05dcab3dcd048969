#include "service/jobs/model_registry.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "engine/model/gguf_model.h"
#include "engine/util/error.h"
#include "service/jobs/clock.h"

namespace dlx {
namespace fs = std::filesystem;

namespace {

std::string sha256_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) {
    throw Error(ErrorCode::kInternal, "sha256 failed");
  }
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

// True when `p` (already canonical) is `root` or lies below it, compared by path components so
// "/models-evil" is not inside "/models".
bool is_within(const fs::path& root, const fs::path& p) {
  auto r = root.begin(), q = p.begin();
  for (; r != root.end(); ++r, ++q) {
    if (r->empty()) continue;  // trailing separator
    if (q == p.end() || *r != *q) return false;
  }
  return true;
}

Error already_exists(const std::string& name) {
  return Error(ErrorCode::kConflict, "model '" + name + "' already exists", "name");
}

Error shutting_down() {
  return Error(ErrorCode::kUnavailable, "the server is shutting down").with_reason("shutting_down");
}

}  // namespace

db::ModelRow describe_model_folder(const std::string& name, const std::string& dir) {
  const ModelInfo info = describe_model(dir);
  db::ModelRow row;
  row.name = name;
  row.path = info.path;
  row.family = info.family;
  row.dtype = info.dtype;
  row.parameters = info.parameters;
  row.file_bytes = static_cast<int64_t>(info.file_bytes);
  row.context_length = info.max_positions;
  row.format = info.format;
  row.config_sha256 = sha256_hex(info.config_json);
  row.created_at = unix_ms();
  row.status = db::ModelStatus::kUnloaded;
  return row;
}

bool ModelRegistry::valid_name(const std::string& name) {
  static const std::regex re("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
  return std::regex_match(name, re);
}

ModelRegistry::ModelRegistry(db::Db& db, Metrics& metrics, RegistryOptions opts)
    : db_(db), metrics_(metrics), opts_(std::move(opts)), engine_(opts_.engine) {}

ModelRegistry::~ModelRegistry() {
  stop();
}

void ModelRegistry::recover_interrupted_loads() {
  const std::vector<std::string> names = db_.count_interrupted_loads(kMaxInterruptedLoads);
  for (const db::ModelRow& row : db_.models()) {
    if (std::find(names.begin(), names.end(), row.name) == names.end()) continue;
    std::fprintf(stderr, "diffulex serve: not loading model '%s': %s\n", row.name.c_str(),
                 row.error.value_or("").c_str());
    set_aside_[row.name] = row;
  }
}

void ModelRegistry::add_startup_model(const std::string& spec) {
  std::string name, dir = spec;
  if (auto eq = spec.find('='); eq != std::string::npos && valid_name(spec.substr(0, eq))) {
    name = spec.substr(0, eq);
    dir = spec.substr(eq + 1);
  }
  std::error_code ec;
  if (!fs::is_directory(dir, ec) && !is_gguf_model_path(dir)) {
    throw Error(ErrorCode::kInvalidArgument,
                "--model: '" + dir + "' is not a model folder or a GGUF file", "model");
  }
  // A folder is named after itself, a file after its stem ("dream.q4_0.gguf" -> "dream.q4_0").
  if (name.empty()) {
    const fs::path p = fs::canonical(dir);
    name = fs::is_directory(p, ec) ? p.filename().string() : p.stem().string();
  }
  if (!valid_name(name)) {
    throw Error(ErrorCode::kInvalidArgument,
                "--model: '" + name +
                    "' is not a valid model name (letters, digits, '.', '_', '-'; at most 64); "
                    "use --model NAME=DIR",
                "model");
  }
  db::ModelRow row = describe_model_folder(name, dir);
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.count(name)) {
    throw Error(ErrorCode::kInvalidArgument, "--model: the name '" + name + "' is given twice",
                "model");
  }
  // The same folder, unchanged, that earlier processes kept dying on: registered, not loaded.
  if (auto it = set_aside_.find(name); it != set_aside_.end() && it->second.path == row.path &&
                                       it->second.config_sha256 == row.config_sha256) {
    entries_[name] = Entry{it->second, nullptr};
    return;
  }
  row.status = db::ModelStatus::kLoading;
  db_.upsert_model(row);
  entries_[name] = Entry{row, nullptr};
  loads_.push_back({name, nullptr});
  ++startup_pending_;
}

void ModelRegistry::restore() {
  for (db::ModelRow& row : db_.models()) {
    std::lock_guard<std::mutex> lock(mu_);
    if (entries_.count(row.name)) continue;  // --model wins over the stored row
    const bool reload =
        row.status == db::ModelStatus::kLoaded || row.status == db::ModelStatus::kLoading;
    if (reload) {
      row.status = db::ModelStatus::kLoading;
      loads_.push_back({row.name, nullptr});
      ++startup_pending_;
    }
    entries_[row.name] = Entry{row, nullptr};
  }
}

void ModelRegistry::start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) return;
  started_ = true;
  loader_ = std::thread([this] { loader_loop(); });
}

bool ModelRegistry::ready() const {
  std::lock_guard<std::mutex> lock(mu_);
  return started_ && startup_pending_ == 0;
}

void ModelRegistry::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (loader_.joinable()) loader_.join();
}

void ModelRegistry::enqueue_load(LoadRequest r) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) throw shutting_down();
    loads_.push_back(std::move(r));
  }
  cv_.notify_all();
}

void ModelRegistry::loader_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !loads_.empty(); });
    if (stop_) {
      // Loads nobody started are answered, not dropped: their callers are waiting.
      for (auto& r : loads_) {
        if (r.done) {
          r.done->set_exception(std::make_exception_ptr(shutting_down()));
        }
      }
      loads_.clear();
      return;
    }
    LoadRequest r = std::move(loads_.front());
    loads_.pop_front();
    const bool startup = !r.done;
    lock.unlock();
    std::exception_ptr err;
    try {
      do_load(r.name);
    } catch (...) {
      err = std::current_exception();
    }
    if (r.done) {
      if (err)
        r.done->set_exception(err);
      else
        r.done->set_value();
    }
    lock.lock();
    if (startup) --startup_pending_;
  }
}

void ModelRegistry::set_status(const std::string& name, db::ModelStatus status,
                               const std::optional<std::string>& error) {
  db_.set_model_status(name, status, error);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) return;
  it->second.row.status = status;
  it->second.row.error = error;
}

void ModelRegistry::record_failure(const std::string& name, const std::string& error) noexcept {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(name);
    if (it == entries_.end()) return;
    it->second.row.status = db::ModelStatus::kError;
    it->second.row.error = error;
  }
  try {
    db_.set_model_status(name, db::ModelStatus::kError, error);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "diffulex serve: cannot record the state of model '%s': %s\n",
                 name.c_str(), e.what());
  }
}

void ModelRegistry::do_load(const std::string& name) {
  std::string path;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(name);
    if (it == entries_.end() || it->second.loaded) return;  // removed, or loaded meanwhile
    path = it->second.row.path;
  }
  set_status(name, db::ModelStatus::kLoading, std::nullopt);
  const auto t0 = SteadyClock::now();
  try {
    if (!backend_reported_.exchange(true)) {
      const std::string why = engine_.backend_note();
      std::fprintf(stderr, "diffulex serve: backend %s%s%s\n", engine_.backend()->name().c_str(),
                   why.empty() ? "" : " — ", why.c_str());
    }
    auto loaded = engine_.load(path);
    auto lm = std::make_shared<LoadedModel>(*loaded);
    lm->name = name;
    const std::string& note = lm->fallback_note;
    const double load_seconds = ms_between(t0, SteadyClock::now()) / 1000.0;
    db::ModelRow row;
    {
      // Recorded, then published: a load the database refused is not a loaded model.
      std::lock_guard<std::mutex> admin(admin_mu_);
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = entries_.find(name);
        if (it == entries_.end()) return;  // removed while loading
        row = it->second.row;
      }
      row.status = db::ModelStatus::kLoaded;
      row.error.reset();
      row.dtype = dtype_name(lm->model->weight_dtype());
      row.parameters = lm->model->parameter_count();
      row.context_length = lm->info.max_positions;
      db_.upsert_model(row);
      std::lock_guard<std::mutex> lock(mu_);
      auto it = entries_.find(name);
      if (it == entries_.end()) return;
      it->second.loaded = lm;
      it->second.row = row;
    }
    metrics_.model_loaded(name, load_seconds);
    std::fprintf(stderr,
                 "diffulex serve: loaded model '%s' (%s, %lld parameters, %s) in %.2f s%s%s\n",
                 name.c_str(), row.family.c_str(), static_cast<long long>(row.parameters),
                 row.dtype.c_str(), load_seconds, note.empty() ? "" : "; ", note.c_str());
  } catch (const std::exception& e) {
    record_failure(name, e.what());
    std::fprintf(stderr, "diffulex serve: loading model '%s' failed: %s\n", name.c_str(), e.what());
    throw;
  }
}

std::vector<db::ModelRow> ModelRegistry::list() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<db::ModelRow> out;
  for (const auto& [name, e] : entries_) out.push_back(e.row);
  return out;
}

db::ModelRow ModelRegistry::info(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) throw unknown_model(name);
  return it->second.row;
}

db::ModelRow ModelRegistry::register_model(const std::string& name, const std::string& path) {
  if (!valid_name(name)) {
    throw_invalid_argument("name",
                           "'" + name +
                               "' is not a valid model name (letters, digits, '.', '_', '-'; "
                               "starts with a letter or digit; at most 64)");
  }
  if (opts_.models_dir.empty()) {
    throw_invalid_argument("path",
                           "registering models over HTTP is disabled: start the server with "
                           "--models-dir DIR");
  }
  if (path.empty()) throw_invalid_argument("path", "must name a model folder or GGUF file inside --models-dir");
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (entries_.count(name)) throw already_exists(name);
  }
  const fs::path root = fs::canonical(opts_.models_dir);
  const fs::path given(path);
  std::error_code ec;
  // weakly_canonical resolves "..", "." and every symlink of the existing part of the path, so
  // neither "../x" nor a symlink pointing outside can escape the root.
  const fs::path resolved = fs::weakly_canonical(given.is_absolute() ? given : root / given, ec);
  if (ec || !is_within(root, resolved)) {
    throw_invalid_argument("path", "'" + path + "' is outside --models-dir");
  }
  if (!fs::is_directory(resolved, ec) && !is_gguf_model_path(resolved.string())) {
    throw_invalid_argument("path",
                           "'" + path + "' is not a model folder or GGUF file inside --models-dir");
  }
  db::ModelRow row;
  try {
    row = describe_model_folder(name, resolved.string());
  } catch (const Error& e) {
    throw Error(ErrorCode::kInvalidModel,
                std::string("path: not a usable model: ") + e.what(), "path");
  }
  std::lock_guard<std::mutex> admin(admin_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (entries_.count(name)) throw already_exists(name);
  }
  db_.upsert_model(row);  // first: a refused write registers nothing
  std::lock_guard<std::mutex> lock(mu_);
  entries_[name] = Entry{row, nullptr};
  return row;
}

void ModelRegistry::remove(const std::string& name) {
  std::lock_guard<std::mutex> admin(admin_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!entries_.count(name)) throw unknown_model(name);
  }
  db_.delete_model(name);
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase(name);
}

db::ModelRow ModelRegistry::load(const std::string& name) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(name);
    if (it == entries_.end()) throw unknown_model(name);
    if (it->second.loaded) return it->second.row;
  }
  auto done = std::make_shared<std::promise<void>>();
  auto fut = done->get_future();
  enqueue_load({name, done});
  try {
    fut.get();
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kUnavailable) throw;  // shutting down: not the model's fault
    // A folder that cannot be loaded is the caller's input (it was registered by name).
    throw Error(ErrorCode::kInvalidModel, "model '" + name + "' cannot be loaded: " + e.what(),
                "model");
  }
  return info(name);
}

db::ModelRow ModelRegistry::unload(const std::string& name) {
  std::lock_guard<std::mutex> admin(admin_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!entries_.count(name)) throw unknown_model(name);
  }
  db_.set_model_status(name, db::ModelStatus::kUnloaded, std::nullopt);  // first
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) throw unknown_model(name);
  it->second.loaded.reset();  // running jobs keep their own reference until they finish
  it->second.row.status = db::ModelStatus::kUnloaded;
  it->second.row.error.reset();
  return it->second.row;
}

std::string ModelRegistry::loaded_names() const {
  std::string names;
  for (const auto& [n, e] : entries_) {
    if (e.loaded) names += (names.empty() ? "" : ", ") + n;
  }
  return names.empty() ? "none" : names;
}

Error ModelRegistry::unknown_model(const std::string& name) const {
  return Error(ErrorCode::kNotFound,
               "model '" + name + "' does not exist (loaded: " + loaded_names() + ")", "model");
}

std::shared_ptr<const LoadedModel> ModelRegistry::acquire(const std::string& requested) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string name = requested;
  // A registered name wins over an alias of the same spelling.
  if (auto a = opts_.aliases.find(name); a != opts_.aliases.end() && !entries_.count(name)) {
    name = a->second;
  }
  if (name.empty()) {
    // Clients that send no model get the only one loaded; with several the name is needed.
    int loaded = 0;
    for (const auto& [n, e] : entries_) {
      if (e.loaded && ++loaded == 1) name = n;
    }
    if (loaded != 1) {
      throw Error(ErrorCode::kInvalidArgument,
                  "model: is required when " + std::to_string(loaded) +
                      " models are loaded (loaded: " + loaded_names() + ")",
                  "model");
    }
  }
  auto it = entries_.find(name);
  if (it == entries_.end()) throw unknown_model(name);
  if (!it->second.loaded) {
    throw Error(ErrorCode::kUnavailable,
                "model '" + name + "' is not loaded: POST /v1/models/" + name +
                    "/load first (or wait for it to finish loading)",
                "model")
        .with_reason("model_not_loaded");
  }
  return it->second.loaded;
}

std::vector<std::pair<std::string, db::ModelStatus>> ModelRegistry::statuses() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::string, db::ModelStatus>> out;
  for (const auto& [name, e] : entries_) out.emplace_back(name, e.row.status);
  return out;
}

}  // namespace dlx
