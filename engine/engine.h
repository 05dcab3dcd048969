// Engine: the one API every caller uses (CLI commands, the HTTP service, benches, tests) to
// describe and load models and to run generations on sessions. Options arrive as plain
// structs filled once at the caller's edge (flags, DIFFULEX_* variables); the engine reads no
// environment. One backend (device + thread pool) is shared by every model it loads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/backend/backend_factory.h"
#include "engine/decode/decode_params.h"
#include "engine/decode/generate.h"
#include "engine/decode/template_generate.h"  // infill: generate_template()
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"

namespace dlx {

struct EngineOptions {
  std::string device = "auto";  // auto | cpu | opencl | opencl:N (see make_backend)
  int threads = 0;              // compute threads (0 = all cores)
  OpenClSettings opencl;        // used when the device is an OpenCL one
};

// Per-model load options.
struct ModelLoadOptions {
  std::string weights;                 // a safetensors file to use instead of the folder's
  std::optional<Precision> precision;  // nullopt: the default for the weights' dtype
  bool need_tokenizer = false;         // fail when the model has no tokenizer
};

// What a model is, read from its files without loading weights.
struct ModelInfo {
  std::string path;    // canonical folder (or file)
  std::string format;  // "safetensors" (a folder) or "gguf" (one file)
  std::string family;  // "llada", "dream", "sdar", "fast_dllm_v2"
  std::string dtype;   // the dtype holding most weight bytes
  int64_t parameters = 0;
  uint64_t file_bytes = 0;
  int64_t max_positions = 0;
  int64_t vocab = 0;
  bool has_tokenizer = false;
  bool has_chat_template = false;  // chat prompts work (the playground opens in Chat mode)
  std::string config_json;         // the raw config.json (its hash identifies the model)
  DecodeParams decoding;  // the family's default decoding for this model (its generation_config)
};

// A loaded model: immutable, shared by every session and request that uses it.
struct LoadedModel {
  std::string name;  // what callers call it (the registry's name; else the folder name)
  std::shared_ptr<const Model> model;
  std::shared_ptr<const Tokenizer> tokenizer;  // null when the model has none
  ModelInfo info;
  double load_ms = 0;
  std::string fallback_note;  // why a device backend was replaced by the CPU, if it was
};

// Reads a model's config and weight headers (no weights are loaded). Throws Error
// (kNotFound, kInvalidModel) for a missing or malformed model.
ModelInfo describe_model(const std::string& path);

// The tokenizer alone: PATH is a tokenizer.json, a folder holding one, or a GGUF model file.
// Throws Error as Tokenizer::load does.
std::shared_ptr<Tokenizer> load_tokenizer(const std::string& path);

class Engine {
 public:
  explicit Engine(EngineOptions opts);

  // Loads config, weights and tokenizer. Falls back to the CPU backend (once, noted in the
  // result) when the device backend cannot hold or run the model.
  std::shared_ptr<const LoadedModel> load(const std::string& path,
                                          const ModelLoadOptions& opts = {});
  // The shared backend, created on first use.
  std::shared_ptr<Backend> backend();
  // Why the backend asked for is not the one in use ("" when it is).
  std::string backend_note();
  const EngineOptions& options() const { return opts_; }

 private:
  EngineOptions opts_;
  std::mutex mu_;
  std::shared_ptr<Backend> backend_;
  std::string note_;
};

}  // namespace dlx
