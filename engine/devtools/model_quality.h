// Model quality: how closely one model reproduces another of the same weights (a quantized
// GGUF against its f32 folder, int8 products against exact ones). Per prompt, one forward of
// each model over the same canvas compares their logits row by row (KL divergence, top-1
// agreement), and one greedy generation of each compares the tokens they produce. The numbers
// behind `diffulex quality` and the benches.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/decode/decode_params.h"
#include "engine/engine.h"

namespace dlx::quality {

// KL(p || q) in nats of one logits row, p = softmax(ref), q = softmax(model), both computed
// with float64 accumulation (log-sum-exp). 0 for identical rows; rows of equal length V.
double kl_divergence(std::span<const float> ref, std::span<const float> model);
// The index of the largest logit (the first one on ties).
int64_t argmax(std::span<const float> row);

// Agreement of logits rows, accumulated over rows (and prompts with merge()).
struct LogitsAgreement {
  int64_t rows = 0;
  double kl_sum = 0;  // nats, summed over rows
  double kl_max = 0;
  int64_t top1_agree = 0;  // rows whose argmax is the same in both

  double kl_mean() const { return rows ? kl_sum / rows : 0; }
  double top1_rate() const { return rows ? static_cast<double>(top1_agree) / rows : 0; }
  void add_row(std::span<const float> ref, std::span<const float> model);
  void merge(const LogitsAgreement& other);
};

// ref, model: (rows, vocab) row-major.
LogitsAgreement compare_logits(const float* ref, const float* model, int64_t rows, int64_t vocab);

// Agreement of two generated token sequences, position by position. Positions past the end of
// the shorter sequence count as mismatches, so match_fraction is 1 only for identical outputs.
struct GenerationAgreement {
  int64_t generations = 0;
  int64_t identical = 0;  // generations with the same ids, same length
  int64_t positions = 0;  // sum over generations of the longer output's length
  int64_t matching = 0;   // positions holding the same id in both

  double identical_rate() const {
    return generations ? static_cast<double>(identical) / generations : 0;
  }
  double match_fraction() const {
    return positions ? static_cast<double>(matching) / positions : 1;
  }
  void add(std::span<const int32_t> ref, std::span<const int32_t> model);
  void merge(const GenerationAgreement& other);
};

GenerationAgreement compare_generations(std::span<const int32_t> ref,
                                        std::span<const int32_t> model);

// Throws Error kInvalidArgument (param "ref") naming both models when they cannot be compared:
// different families or vocabulary sizes.
void check_comparable(const LoadedModel& model, const LoadedModel& ref);

// The prompts `diffulex quality` uses when given none: a few short questions and tasks.
const std::vector<std::string>& default_prompts();
// A prompt set file: one prompt per line, or JSON lines {"prompt": "..."} (other keys are
// ignored, so the demo's held-out set works as is); blank lines are skipped. Throws Error
// kNotFound for an unreadable file, kInvalidArgument (param "prompts") naming the line for a
// JSON line without a string "prompt" or a file without prompts.
std::vector<std::string> read_prompts(const std::string& path);

// A prompt as token ids: its text rendered through the chat template when `chat` (and the
// model has one), else encoded as plain text.
std::vector<int32_t> encode_prompt(const Tokenizer& tok, const std::string& text, bool chat);

// One prompt compared on both models.
struct PromptQuality {
  int64_t prompt_tokens = 0;
  LogitsAgreement logits;
  GenerationAgreement generation;
  std::vector<int32_t> ref_output, model_output;  // the greedy generations
};

// Runs both models on `prompt`: one forward over the canvas of a first denoising step (the
// prompt followed by gen_length mask tokens, the family's own attention: bidirectional, or
// block-causal at the config's block size), every row's logits compared; then generate() on
// each with its own decoding (ref_params / model_params). Throws Error kOutOfRange when the
// canvas exceeds either model's positions.
PromptQuality compare_prompt(const Model& model, const Model& ref, std::span<const int32_t> prompt,
                             const DecodeParams& model_params, const DecodeParams& ref_params);

}  // namespace dlx::quality
