// Model: a loaded checkpoint — config, arch spec, and weights on a backend. Immutable after
// load and shared by every session. The forward pass (model.cpp) is written once for every
// family against the Backend interface; per-sequence state lives in a Session.
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
#include "engine/formats/safetensors.h"
#include "engine/model/model_config.h"
#include "engine/model/op_profile.h"
#include "engine/util/interrupt.h"

namespace dlx {

struct LayerWeights {
  Tensor attn_norm, ffn_norm;     // [1, D]
  Tensor q, k, v, o;              // [H*hd, D], [KV*hd, D] x2, [D, H*hd]
  Tensor q_bias, k_bias, v_bias;  // [1, H*hd] / [1, KV*hd] (qkv_bias only)
  Tensor q_norm, k_norm;          // [1, hd] (qk_norm only)
  Tensor gate, up, down;          // [F, D], [F, D], [D, F]
};

// Session: the buffers of one sequence — its KV cache (rows = absolute positions), the
// scratch activations of one forward, and the logits of the rows a forward scores. Allocated
// once (Model::new_session) and reused by every forward without allocation; a caller may keep
// it between generations. Logits are sized by the rows scored per forward (a block or
// sub-block, plus the shifted row), not by the canvas: at vocab 151936 a 640-position canvas
// would otherwise need ~389 MB on the device and again on the host.
struct Session {
  int64_t max_tokens = 0;                // KV capacity (positions)
  int64_t max_span = 0;                  // largest span one forward may compute
  int64_t max_logit_rows = 0;            // most logits rows one forward may return
  std::vector<Tensor> k_cache, v_cache;  // per layer (max_tokens, KV*hd)
  Tensor x, h;                           // (max_span, D)
  Tensor q, att;                         // (max_span, H*hd)
  Tensor k, v;                           // (max_span, KV*hd)
  Tensor proj;                           // (max_span, D)
  Tensor gate, up;                       // (max_span, F)
  Tensor logits;                         // (max_logit_rows, V) on the backend
  std::vector<float> logits_host;        // (max_logit_rows, V)
  Tensor rope_cos, rope_sin;  // (>= max_tokens, hd/2), shared with the model and other sessions
};

// Bytes a session of this shape holds (device + host), for admission control.
uint64_t session_bytes(const ModelConfig& c, int64_t max_tokens, int64_t max_span,
                       int64_t max_logit_rows);

// One forward call: tokens `ids` at absolute positions [pos0, pos0 + T). Their K/V are written
// into the cache rows [pos0, pos0 + T); queries attend to cached positions [0, n_keys).
struct ForwardSpan {
  std::span<const int32_t> ids;
  int64_t pos0 = 0;
  int64_t n_keys = 0;  // 0: pos0 + T
  int block_size = 0;  // 0: full attention; B: block-causal over absolute positions
  int64_t logits_begin = 0, logits_end = -1;  // span rows to compute logits for; -1: all
  const Interrupt* interrupt = nullptr;       // checked between layers when given
  OpProfile* profile = nullptr;               // per-op times are added here when given
};

struct LoadOptions {
  std::string weights;  // a safetensors file in (or outside) the folder; empty: the default
  // How products with the weights are computed; empty: default_precision() of their dtype.
  std::optional<Precision> precision;
};

// The precision a weight dtype is multiplied with by default (see Precision).
Precision default_precision(DType weights);
const char* precision_name(Precision p);  // "exact", "bf16", "int8"
// "exact", "bf16", "int8", or "auto" (nullopt). Throws Error kInvalidArgument (param
// "precision") for anything else.
std::optional<Precision> parse_precision(const std::string& s);

class Model {
 public:
  // Loads config and weights from a Hugging Face folder; validates every tensor's shape.
  static std::shared_ptr<Model> load(const std::string& dir, std::shared_ptr<Backend> backend,
                                     const LoadOptions& opts = {});
  // A model of `config` whose tensors come from `weights` (a folder's safetensors or a GGUF
  // file); validates every tensor's shape and uploads it to the backend.
  static std::shared_ptr<Model> create(ModelConfig config, std::unique_ptr<WeightSource> weights,
                                       std::shared_ptr<Backend> backend,
                                       const LoadOptions& opts = {});

  const ModelConfig& config() const { return config_; }
  const ArchSpec& spec() const { return *config_.spec; }
  Backend& backend() const { return *backend_; }
  DType weight_dtype() const { return weight_dtype_; }
  Precision precision() const { return precision_; }  // of the matrix weights
  int64_t parameter_count() const { return parameter_count_; }
  uint64_t file_bytes() const { return file_bytes_; }

  // A session for sequences of up to `max_tokens` positions, forwards of up to `max_span`
  // tokens returning up to `max_logit_rows` logits rows (-1: max_span).
  Session new_session(int64_t max_tokens, int64_t max_span, int64_t max_logit_rows = -1) const;
  // Runs the transformer over the span. Returns a pointer to host logits
  // (logits_end - logits_begin, V), valid until the next forward on `st`. Throws Error
  // kUnavailable (reason "model_file_changed") when a weight file changed on disk before or
  // during the forward: its results would come from weights that are no longer the model's.
  const float* forward(Session& st, const ForwardSpan& span) const;
  // The same check on its own: throws as forward() does when a weight file changed.
  void check_weights() const;

 private:
  Model() = default;
  void load_weights(const WeightSource& store, const LoadOptions& opts);
  // RoPE tables covering at least `positions` positions (grown on demand, never shrunk).
  void rope_tables(int64_t positions, Tensor* cos, Tensor* sin) const;

  ModelConfig config_;
  std::shared_ptr<Backend> backend_;
  std::unique_ptr<WeightSource> store_;  // keeps the memory maps alive
  Tensor embed_, final_norm_, lm_head_;
  std::vector<LayerWeights> layers_;
  // RoPE tables [rows, hd/2] for positions [0, rows). Built lazily up to what sessions ask
  // for, so a config's max_position_embeddings of millions costs nothing until used; states
  // hold their own reference, so growing them never disturbs a running forward.
  mutable std::mutex rope_mu_;
  mutable Tensor rope_cos_, rope_sin_;
  DType weight_dtype_ = DType::kF32;
  Precision precision_ = Precision::kExact;
  int64_t parameter_count_ = 0;
  uint64_t file_bytes_ = 0;
};

}  // namespace dlx
