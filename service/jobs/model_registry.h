// ModelRegistry: the models the server knows (persisted in the models table) and the loaded
// ones (engine LoadedModels: weights + tokenizer, shared read-only by every job, so an unload
// never pulls weights from under a running generation). Loads run on one loader thread;
// the server reports ready once the models named at startup have finished loading.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "engine/util/error.h"
#include "service/db/db.h"
#include "service/metrics/metrics.h"

namespace dlx {

struct RegistryOptions {
  std::string models_dir;  // the only root for POST /v1/models; empty: registration disabled
  EngineOptions engine;    // the one engine (backend, thread pool) every model loads on
  // Names clients send (e.g. "gpt-4o-mini", which a client cannot be told to change) -> the
  // registered model that answers them; an empty target means the only loaded model.
  std::map<std::string, std::string> aliases;
};

class ModelRegistry {
 public:
  ModelRegistry(db::Db& db, Metrics& metrics, RegistryOptions opts);
  ~ModelRegistry();
  ModelRegistry(const ModelRegistry&) = delete;
  ModelRegistry& operator=(const ModelRegistry&) = delete;

  // A model whose loading was interrupted this many times in a row (the process crashed or was
  // killed while loading it) is not loaded again automatically at start.
  static constexpr int kMaxInterruptedLoads = 2;

  // --- startup (before start()) ---
  // First: counts the loads an earlier process left unfinished, and sets aside the models that
  // reached kMaxInterruptedLoads (status 'error' with the reason; POST .../load retries).
  void recover_interrupted_loads();
  // `spec` is DIR or NAME=DIR (--model). Reads the folder's config and weight headers now, so
  // a wrong path fails the command at once; the weights load in the background after start().
  void add_startup_model(const std::string& spec);
  // Registers the models of earlier runs; those that were loaded are loaded again.
  void restore();
  // Starts the loader thread on the queued startup loads.
  void start();
  // True once every startup load has finished (successfully or not).
  bool ready() const;
  void stop();

  // --- API ---
  std::vector<db::ModelRow> list() const;
  // Errors: kNotFound (no such name), kInvalidArgument / kConflict (registration),
  // kInvalidModel (a folder that does not load), kUnavailable (shutting down, or the database
  // refused the write: then nothing changed, in memory or on disk).
  db::ModelRow info(const std::string& name) const;
  db::ModelRow register_model(const std::string& name, const std::string& path);
  void remove(const std::string& name);
  db::ModelRow load(const std::string& name);  // blocks until loaded
  db::ModelRow unload(const std::string& name);
  // The loaded model for a request: kNotFound unknown (the message lists the loaded ones),
  // kUnavailable not loaded. An empty name means the only loaded model (kInvalidArgument when
  // there is not exactly one).
  std::shared_ptr<const LoadedModel> acquire(const std::string& name) const;
  std::vector<std::pair<std::string, db::ModelStatus>> statuses() const;

  // Name rules shared by --model and POST /v1/models.
  static bool valid_name(const std::string& name);

 private:
  struct Entry {
    db::ModelRow row;
    std::shared_ptr<const LoadedModel> loaded;
  };
  struct LoadRequest {
    std::string name;
    std::shared_ptr<std::promise<void>> done;  // null for startup loads
  };

  void enqueue_load(LoadRequest r);
  void loader_loop();
  void do_load(const std::string& name);  // on the loader thread
  // With mu_ held: "a, b" (or "none"), and the error for a name that is not registered.
  std::string loaded_names() const;
  Error unknown_model(const std::string& name) const;
  // Database first, then memory: a refused write leaves both as they were (and throws).
  void set_status(const std::string& name, db::ModelStatus status,
                  const std::optional<std::string>& error);
  // For failures: memory always, the database if it takes it.
  void record_failure(const std::string& name, const std::string& error) noexcept;

  db::Db& db_;
  Metrics& metrics_;
  const RegistryOptions opts_;

  mutable std::mutex mu_;
  // Serializes changes to the registry (register, remove, unload, the end of a load) so that
  // each is written to the database before it shows in memory, without holding mu_ (which
  // every request takes) across a database write.
  std::mutex admin_mu_;
  std::map<std::string, Entry> entries_;
  std::map<std::string, db::ModelRow> set_aside_;  // by recover_interrupted_loads()
  std::deque<LoadRequest> loads_;
  int startup_pending_ = 0;
  bool started_ = false, stop_ = false;
  std::condition_variable cv_;
  Engine engine_;                              // one backend (thread pool) shared by every model
  std::atomic<bool> backend_reported_{false};  // its name printed at the first load
  std::thread loader_;
};

// describe_model (config.json and weight headers; no weights are loaded) as a row with status
// 'unloaded'. Throws Error for a missing or malformed folder.
db::ModelRow describe_model_folder(const std::string& name, const std::string& dir);

}  // namespace dlx
