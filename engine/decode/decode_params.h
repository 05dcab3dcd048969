// DecodeParams: the one vocabulary of decoding parameters (docs: DECODING.md in the README).
// The CLI spells each key as a flag, the HTTP API as a key of the `diffusion` object; both go
// through set_param / apply_json so names, parsing and errors are identical everywhere.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/model/model_config.h"

namespace dlx {

enum class Schedule { kUniform, kTimestep };
enum class ConfidenceKind { kProb, kMargin, kNegEntropy, kRandom };
enum class CommitRule { kSchedule, kThreshold, kThresholdOrSchedule };
enum class CacheMode { kNone, kPrefix, kDual, kBlock };
// official: the family's reference algorithm; fast: the measured bundle of the keys below
// (README, "Fewer forwards").
enum class Preset { kOfficial, kFast };

struct DecodeParams {
  int gen_length = 128;
  int block_length = 32;           // 0: one block over the whole canvas (= gen_length)
  std::optional<int> steps;        // over the whole canvas
  std::optional<int> block_steps;  // per block
  Schedule schedule = Schedule::kUniform;
  double eps = 1e-3;
  ConfidenceKind confidence = ConfidenceKind::kProb;
  CommitRule commit = CommitRule::kSchedule;
  double threshold = 0.9;
  std::optional<int> sub_block_length;
  CacheMode cache = CacheMode::kNone;
  double temperature = 0.0;
  int top_k = 0;
  double top_p = 1.0;
  double min_p = 0;  // drop tokens below min_p x the top probability (0 = off)
  double cfg_scale = 0.0;
  uint64_t seed = 0;
  bool stop_at_eos = true;
  // Fewer forwards (off in the official algorithms; `preset` sets them together).
  Preset preset = Preset::kOfficial;
  bool eos_fill = false;               // end-of-text tail fill
  double eos_fill_prob = 0;            // eos_fill: only end tokens more likely than this
  std::optional<double> early_commit;  // commit the whole unit when every top1-top2 gap is >= this
  std::optional<int> early_commit_steps;  // ... or when every candidate held for this many steps
  double threshold_relax = 0;             // threshold x (1 - relax x decoded fraction of the unit)
  std::optional<int> suffix_window;  // bidirectional: masked positions after the block computed
};

// The keys `preset` sets, to the bundle it names (other keys are left alone).
void apply_preset(DecodeParams& p, Preset preset);

// block_length with 0 resolved to gen_length.
inline int effective_block_length(const DecodeParams& p) {
  return p.block_length == 0 ? p.gen_length : p.block_length;
}

// Every key, in documentation order.
const std::vector<std::string>& decode_param_keys();
// The family's own default decoding (what its authors' code does with no arguments).
DecodeParams default_decode_params(const ModelConfig& config);
// Sets one key from its text form ("32", "threshold", "true", "null"). Throws Error
// kInvalidArgument naming the key for unknown keys and unparsable values.
void set_param(DecodeParams& p, const std::string& key, const std::string& value);
// Sets every key of a JSON object (values of the natural JSON types, or null for optionals).
void apply_json(DecodeParams& p, const nlohmann::json& obj);
nlohmann::json to_json(const DecodeParams& p);
// Decoding for one request, the same way for every caller (CLI flags, chat /set, HTTP): the
// model's defaults, then the caller's overrides in order. Nothing else adjusts lengths: a
// gen_length the block does not divide ends in a partial last block (validate()), so a user
// asking for 30 tokens gets 30 tokens from every entry point.
using TextOverrides = std::vector<std::pair<std::string, std::string>>;  // key, text value
DecodeParams resolve_decode_params(const ModelConfig& config, const TextOverrides& overrides);
DecodeParams resolve_decode_params(const ModelConfig& config, const nlohmann::json& overrides);
// Checks ranges and combinations for this model and prompt; throws Error kInvalidArgument
// (or kOutOfRange when prompt + canvas exceed the model's positions) naming the parameter.
void validate(const DecodeParams& p, const ModelConfig& config, int prompt_len);

const char* to_string(Schedule v);
const char* to_string(ConfidenceKind v);
const char* to_string(CommitRule v);
const char* to_string(CacheMode v);
const char* to_string(Preset v);

}  // namespace dlx
