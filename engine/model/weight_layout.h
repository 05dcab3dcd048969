// The one list of a model's weights: every tensor a family's checkpoint holds, with its name,
// shape and whether it must be present. Loading (lookup, shape checks, upload), the
// random-model writer and any converter walk this list, so a new family or tensor is one
// change here and in its ArchSpec row.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "engine/model/arch_spec.h"

namespace dlx {

struct ModelConfig;

// The dimensions that decide the weights' shapes.
struct WeightDims {
  int64_t hidden = 0, vocab = 0, intermediate = 0, head_dim = 0;  // D, V, F, hd
  int64_t heads = 0, kv_heads = 0, layers = 0;                    // H, KV
  bool qkv_bias = false, qk_norm = false, tie_embeddings = false;
};
WeightDims weight_dims(const ModelConfig& c);

// Which tensor of the model (or of layer `layer`) a weight is.
enum class WeightField {
  kEmbed,
  kFinalNorm,
  kLmHead,  // model
  kQ,
  kQBias,
  kK,
  kKBias,
  kV,
  kVBias,
  kO,
  kQNorm,
  kKNorm,
  kGate,
  kUp,
  kDown,
  kAttnNorm,
  kFfnNorm,  // per layer
};

struct WeightSlot {
  std::string name;  // checkpoint name, e.g. "model.layers.3.self_attn.q_proj.weight"
  WeightField field;
  int layer = -1;    // -1 for model-level tensors
  int64_t rows = 1;  // 1 for vectors (norms, biases), stored as shape [cols]
  int64_t cols = 0;
  bool required = true;  // false: the tied lm_head, which falls back to the embedding
  bool is_vector() const { return rows == 1; }
  bool is_norm() const {
    return field == WeightField::kFinalNorm || field == WeightField::kAttnNorm ||
           field == WeightField::kFfnNorm || field == WeightField::kQNorm ||
           field == WeightField::kKNorm;
  }
};

// Calls fn for every weight: embedding, final norm, lm_head, then each layer (its two norms,
// q, k, v, o, the q/k/v biases, the q/k norms, gate, up, down). Lazy, so a loader that stops at
// the first bad tensor never sizes anything from a bogus layer count.
void for_each_weight(const ArchSpec& spec, const WeightDims& d,
                     const std::function<void(const WeightSlot&)>& fn);

}  // namespace dlx
