// GGUF models: one .gguf file is a whole model — hyperparameters, special ids, diffusion traits,
// generation defaults (this file) and the tokenizer with its chat template
// (engine/tokenizer/gguf_tokenizer.h) next to the weights.
//
// Dream and LLaDA use llama.cpp's architecture names and keys exactly as its converter writes
// them, so GGUFs made by llama.cpp's tools load here and ours load there; SDAR and Fast-dLLM v2
// (no llama.cpp architecture) use the same style under "sdar" and "fast-dllm-v2". Keys read
// (ARCH = general.architecture):
//   ARCH.block_count, .context_length, .embedding_length, .feed_forward_length,
//   ARCH.attention.head_count, .head_count_kv, .key_length (head_dim; default D / heads),
//   ARCH.attention.layer_norm_rms_epsilon, ARCH.rope.freq_base, ARCH.rope.dimension_count
//   (must equal head_dim), tokenizer.ggml.{bos,eos,padding,mask,eot,eom}_token_id,
//   diffusion.shift_logits (absent: the family's), diffusion.block_length (block-causal
//   families' training block), diffusion.end_token_ids (every end token; absent: eos, eot, eom
//   and llama.cpp's end-of-generation token texts), general.sampling.{temp,top_k,top_p},
//   diffusion.{steps,max_new_tokens,eps,algorithm} and diffusion.defaults (a JSON object of our
//   decoding keys): the generation_config.json of the folder.
// The vocabulary size is the embedding's row count; q/k/v biases and a separate LM head are
// present when their tensors are.
#pragma once

#include <memory>
#include <string>

#include "engine/formats/gguf.h"
#include "engine/formats/weight_source.h"
#include "engine/model/model_config.h"

namespace dlx {

// Whether a model path names a GGUF file (a regular file starting with the GGUF magic).
bool is_gguf_model_path(const std::string& path);

// The config of a GGUF model, validated like a folder's (model_config_from_json).
// Throws Error kInvalidModel / kUnsupported naming the file and key.
ModelConfig gguf_model_config(const GgufFile& file);

// The config.json a GGUF model's metadata amounts to (what describe_model hashes and shows).
nlohmann::json gguf_config_json(const GgufFile& file);

// The file's tensors under the family's Hugging Face names and shapes; LLaDA's permuted q/k
// rows are put back in HF order (copies of those two tensors per layer; the rest stay mapped).
std::unique_ptr<WeightSource> gguf_weight_source(std::shared_ptr<const GgufFile> file,
                                                 const ModelConfig& config);

// The GGUF tensor name of a weight slot ("blk.3.attn_q.weight", "token_embd.weight", ...).
struct WeightSlot;
std::string gguf_tensor_name(const WeightSlot& slot);

}  // namespace dlx
