// Random models: complete Hugging Face folders (config.json with the family's real keys,
// generation_config.json, sharded safetensors, a small byte-level BPE tokenizer) with random
// weights at real dimensions, so speed can be measured without downloading checkpoints.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/formats/dtype.h"
#include "engine/model/arch_spec.h"

namespace dlx {

// The dimensions of a model; the family decides key names, tensor names and special tokens.
struct RandomModelPreset {
  const char* name;
  int hidden, layers, heads, kv_heads, head_dim, intermediate, vocab, max_positions;
  bool tie_embeddings;
  double rope_theta;
  double norm_eps;
  const char* description;
};

const std::vector<RandomModelPreset>& random_model_presets();
const RandomModelPreset* find_random_model_preset(const std::string& name);

struct RandomModelOptions {
  const ArchSpec* family = nullptr;
  std::string preset = "tiny";
  std::string out_dir;
  DType dtype = DType::kF32;  // f32, bf16 or f16
  uint64_t seed = 0;
  uint64_t shard_bytes = 2'000'000'000;  // largest shard (decimal GB, as HF's max_shard_size)
  int threads = 0;                       // for generating numbers; 0 = all cores
};

struct RandomModelInfo {
  std::vector<std::string> files;  // written, relative to out_dir
  int64_t parameters = 0;          // distinct stored parameters
  uint64_t weight_bytes = 0;       // tensor bytes over all shards
};

// Progress of the weight files: bytes written so far, of total, and the file being written.
using ProgressFn = std::function<void(uint64_t done, uint64_t total, const std::string& file)>;

// Writes the folder (created if missing; earlier model*.safetensors* files in it are removed so
// a stale shard cannot shadow the new ones). Weights are N(0, 0.02), norm weights 1, generated
// per tensor from (seed, tensor name): the same seed gives the same bytes whatever the sharding
// or thread count. Throws Error kInvalidArgument for an unusable preset/family/dtype pair.
RandomModelInfo write_random_model(const RandomModelOptions& opts, const ProgressFn& progress = {});

}  // namespace dlx
