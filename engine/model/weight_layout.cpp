#include "engine/model/weight_layout.h"

#include "engine/model/model_config.h"

namespace dlx {

WeightDims weight_dims(const ModelConfig& c) {
  WeightDims d;
  d.hidden = c.hidden;
  d.vocab = c.vocab;
  d.intermediate = c.intermediate;
  d.head_dim = c.head_dim;
  d.heads = c.heads;
  d.kv_heads = c.kv_heads;
  d.layers = c.layers;
  d.qkv_bias = c.qkv_bias;
  d.qk_norm = c.spec->qk_norm;
  d.tie_embeddings = c.tie_embeddings;
  return d;
}

void for_each_weight(const ArchSpec& spec, const WeightDims& d,
                     const std::function<void(const WeightSlot&)>& fn) {
  const TensorNames& n = spec.tensors;
  const int64_t D = d.hidden, V = d.vocab, F = d.intermediate, hd = d.head_dim;
  const int64_t qd = d.heads * hd, kvd = d.kv_heads * hd;
  auto emit = [&](std::string name, WeightField f, int layer, int64_t rows, int64_t cols,
                  bool required = true) {
    fn(WeightSlot{std::move(name), f, layer, rows, cols, required});
  };
  using W = WeightField;
  emit(n.embed, W::kEmbed, -1, V, D);
  emit(n.final_norm, W::kFinalNorm, -1, 1, D);
  emit(n.lm_head, W::kLmHead, -1, V, D, /*required=*/!d.tie_embeddings);
  for (int i = 0; i < d.layers; ++i) {
    const std::string p = std::string(n.layer_prefix) + std::to_string(i) + ".";
    emit(p + n.attn_norm, W::kAttnNorm, i, 1, D);
    emit(p + n.ffn_norm, W::kFfnNorm, i, 1, D);
    emit(p + n.q + ".weight", W::kQ, i, qd, D);
    emit(p + n.k + ".weight", W::kK, i, kvd, D);
    emit(p + n.v + ".weight", W::kV, i, kvd, D);
    emit(p + n.o + ".weight", W::kO, i, D, qd);
    if (d.qkv_bias) {
      emit(p + n.q + ".bias", W::kQBias, i, 1, qd);
      emit(p + n.k + ".bias", W::kKBias, i, 1, kvd);
      emit(p + n.v + ".bias", W::kVBias, i, 1, kvd);
    }
    if (d.qk_norm) {
      emit(p + n.q_norm, W::kQNorm, i, 1, hd);
      emit(p + n.k_norm, W::kKNorm, i, 1, hd);
    }
    emit(p + n.gate + ".weight", W::kGate, i, F, D);
    emit(p + n.up + ".weight", W::kUp, i, F, D);
    emit(p + n.down + ".weight", W::kDown, i, D, F);
  }
}

}  // namespace dlx
