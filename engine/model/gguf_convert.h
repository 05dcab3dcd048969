// Converts a Hugging Face model folder into one GGUF file that is a whole model: weights in the
// chosen type, config, tokenizer (llama.cpp's keys plus the whole tokenizer.json), chat
// template, generation defaults and diffusion traits (keys: engine/model/gguf_model.h).
// Tensors are streamed one row chunk at a time: the model is never held in memory.
//
// Type policy (what llama.cpp's tools do, and why): vectors (norms, biases) stay f32; with q4_0
// the token embedding and the LM head are q8_0 (the two tensors most sensitive to rounding);
// a matrix whose rows are not whole 32-value blocks falls back to f16, and an f16 target keeps
// a tensor f32 when a value exceeds f16's range. Every fallback is listed in the summary.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/formats/dtype.h"
#include "engine/util/interrupt.h"

namespace dlx {

struct ConvertOptions {
  std::string model_dir;
  std::string out;           // the .gguf to write (replaced atomically when done)
  DType type = DType::kF16;  // f32, f16, bf16, q8_0, q4_0
  std::string weights;       // a safetensors file in the folder instead of the default
  // Called after each chunk: bytes of tensor data written so far, and the total.
  std::function<void(uint64_t done, uint64_t total)> progress;
  const Interrupt* interrupt = nullptr;  // checked between chunks
};

struct ConvertSummary {
  std::string out;
  uint64_t file_bytes = 0;
  int64_t parameters = 0;      // weights written (matrix and vector elements)
  double bits_per_weight = 0;  // tensor data bits / parameters
  double seconds = 0;
  std::vector<std::string> fallbacks;  // "blk.0.ffn_down.weight: f16 (rows of 100 values ...)"
  std::vector<std::pair<std::string, int>> tensors_by_type;  // ("q4_0", 14), ("f32", 5), ...
};

// Throws Error: kNotFound / kInvalidModel for the folder (as loading does), kInvalidArgument for
// a type we do not write, kUnavailable (reason disk_full / io_error) when writing fails; the
// output name is untouched on failure.
ConvertSummary convert_to_gguf(const ConvertOptions& opts);

// Parses "f32|f16|bf16|q8_0|q4_0" (kInvalidArgument naming `param` otherwise).
DType parse_convert_type(const std::string& s, const char* param = "type");

}  // namespace dlx
