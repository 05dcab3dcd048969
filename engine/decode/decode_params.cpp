#include "engine/decode/decode_params.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "engine/util/error.h"

namespace dlx {
namespace {

template <typename E>
struct EnumName {
  E value;
  const char* name;
};

constexpr EnumName<Schedule> kSchedules[] = {{Schedule::kUniform, "uniform"},
                                             {Schedule::kTimestep, "timestep"}};
constexpr EnumName<ConfidenceKind> kConfidences[] = {{ConfidenceKind::kProb, "prob"},
                                                     {ConfidenceKind::kMargin, "margin"},
                                                     {ConfidenceKind::kNegEntropy, "neg_entropy"},
                                                     {ConfidenceKind::kRandom, "random"}};
constexpr EnumName<CommitRule> kCommits[] = {
    {CommitRule::kSchedule, "schedule"},
    {CommitRule::kThreshold, "threshold"},
    {CommitRule::kThresholdOrSchedule, "threshold_or_schedule"}};
constexpr EnumName<CacheMode> kCaches[] = {{CacheMode::kNone, "none"},
                                           {CacheMode::kPrefix, "prefix"},
                                           {CacheMode::kDual, "dual"},
                                           {CacheMode::kBlock, "block"}};

template <typename E, size_t N>
E parse_enum(const EnumName<E> (&table)[N], const std::string& key, const std::string& v) {
  std::string allowed;
  for (const auto& e : table) {
    if (v == e.name) return e.value;
    allowed += (allowed.empty() ? "" : ", ") + std::string(e.name);
  }
  throw_invalid_argument(key, "unknown value '" + v + "' (expected one of: " + allowed + ")");
}

template <typename E, size_t N>
const char* enum_name(const EnumName<E> (&table)[N], E v) {
  for (const auto& e : table) {
    if (e.value == v) return e.name;
  }
  return "?";
}

bool is_null(const std::string& v) { return v == "null" || v == "none" || v.empty(); }

int64_t parse_int(const std::string& key, const std::string& v) {
  errno = 0;
  char* end = nullptr;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno == ERANGE) {
    throw_invalid_argument(key, "'" + v + "' is not an integer");
  }
  return x;
}

int parse_int32(const std::string& key, const std::string& v) {
  int64_t x = parse_int(key, v);
  if (x < INT32_MIN || x > INT32_MAX) throw_invalid_argument(key, "'" + v + "' is out of range");
  return static_cast<int>(x);
}

double parse_double(const std::string& key, const std::string& v) {
  errno = 0;
  char* end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(x)) {
    throw_invalid_argument(key, "'" + v + "' is not a number");
  }
  return x;
}

bool parse_bool(const std::string& key, const std::string& v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  throw_invalid_argument(key, "'" + v + "' is not true or false");
}

}  // namespace

const char* to_string(Schedule v) { return enum_name(kSchedules, v); }
const char* to_string(ConfidenceKind v) { return enum_name(kConfidences, v); }
const char* to_string(CommitRule v) { return enum_name(kCommits, v); }
const char* to_string(CacheMode v) { return enum_name(kCaches, v); }

const std::vector<std::string>& decode_param_keys() {
  static const std::vector<std::string> keys = {
      "gen_length", "block_length", "steps",       "block_steps", "schedule",  "eps",
      "confidence", "commit",       "threshold",   "sub_block_length", "cache", "temperature",
      "top_k",      "top_p",        "cfg_scale",   "seed",        "stop_at_eos"};
  return keys;
}

DecodeParams default_decode_params(const ModelConfig& c) {
  DecodeParams p;
  // generation_config's max_new_tokens, where the model ships one, is its own canvas length
  // (the demo model's is 32); 128 is what the reference scripts use.
  p.gen_length = c.gen_max_new_tokens > 0 ? c.gen_max_new_tokens : 128;
  p.stop_at_eos = true;  // output up to the end token is the same as decoding the whole canvas
  switch (c.spec->family) {
    case Family::kLLaDA:  // ML-GSAI/LLaDA generate.py main(): blocks of 32, one token per step
      // steps unset: one token per step; a canvas that 32 does not tile is one block.
      p.block_length = p.gen_length % 32 == 0 ? 32 : p.gen_length;
      p.schedule = Schedule::kUniform;
      p.confidence = ConfidenceKind::kProb;
      p.commit = CommitRule::kSchedule;
      p.cache = CacheMode::kNone;
      break;
    case Family::kDream: {  // diffusion_generate: one block, timestep schedule
      p.block_length = 0;  // one block over the whole canvas, whatever gen_length is
      p.schedule = Schedule::kTimestep;
      p.eps = c.gen_eps > 0 ? c.gen_eps : 1e-3;
      // generation_config's alg; "origin" (RNG-order reveal) is replaced by the entropy
      // ordering the authors' demos use.
      p.confidence = c.gen_alg == "maskgit_plus"  ? ConfidenceKind::kProb
                     : c.gen_alg == "topk_margin" ? ConfidenceKind::kMargin
                                                  : ConfidenceKind::kNegEntropy;
      p.commit = CommitRule::kSchedule;
      p.cache = CacheMode::kNone;
      if (c.gen_temperature > 0) p.temperature = c.gen_temperature;
      if (c.gen_top_p > 0 && c.gen_top_p <= 1) p.top_p = c.gen_top_p;
      if (c.gen_top_k > 0) p.top_k = c.gen_top_k;
      break;
    }
    case Family::kSDAR:  // generate.py: low_confidence_dynamic, threshold 0.85
      p.block_length = c.train_block_size;
      p.schedule = Schedule::kUniform;
      p.confidence = ConfidenceKind::kProb;
      p.commit = CommitRule::kThresholdOrSchedule;
      p.threshold = 0.85;
      p.cache = CacheMode::kBlock;
      break;
    case Family::kFastDllmV2:  // run_chatbot.py: block 32, small block 8, threshold 0.9
      p.block_length = c.train_block_size;
      p.sub_block_length = std::min(8, c.train_block_size);
      p.confidence = ConfidenceKind::kProb;
      p.commit = CommitRule::kThreshold;
      p.threshold = 0.9;
      p.cache = CacheMode::kBlock;
      break;
  }
  return p;
}

void set_param(DecodeParams& p, const std::string& key, const std::string& v) {
  if (key == "gen_length") p.gen_length = parse_int32(key, v);
  else if (key == "block_length") p.block_length = parse_int32(key, v);
  else if (key == "steps") p.steps = is_null(v) ? std::nullopt : std::optional<int>(parse_int32(key, v));
  else if (key == "block_steps")
    p.block_steps = is_null(v) ? std::nullopt : std::optional<int>(parse_int32(key, v));
  else if (key == "schedule") p.schedule = parse_enum(kSchedules, key, v);
  else if (key == "eps") p.eps = parse_double(key, v);
  else if (key == "confidence") p.confidence = parse_enum(kConfidences, key, v);
  else if (key == "commit") p.commit = parse_enum(kCommits, key, v);
  else if (key == "threshold") p.threshold = parse_double(key, v);
  else if (key == "sub_block_length")
    p.sub_block_length = is_null(v) ? std::nullopt : std::optional<int>(parse_int32(key, v));
  else if (key == "cache") p.cache = parse_enum(kCaches, key, v);
  else if (key == "temperature") p.temperature = parse_double(key, v);
  else if (key == "top_k") p.top_k = parse_int32(key, v);
  else if (key == "top_p") p.top_p = parse_double(key, v);
  else if (key == "cfg_scale") p.cfg_scale = parse_double(key, v);
  else if (key == "seed") {
    int64_t s = parse_int(key, v);
    if (s < 0) throw_invalid_argument(key, "must be >= 0");
    p.seed = static_cast<uint64_t>(s);
  } else if (key == "stop_at_eos") p.stop_at_eos = parse_bool(key, v);
  else throw_invalid_argument(key, "unknown decoding parameter");
}

DecodeParams resolve_decode_params(const ModelConfig& config, const TextOverrides& overrides) {
  DecodeParams p = default_decode_params(config);
  for (const auto& [key, value] : overrides) set_param(p, key, value);
  return p;
}

DecodeParams resolve_decode_params(const ModelConfig& config, const nlohmann::json& overrides) {
  DecodeParams p = default_decode_params(config);
  apply_json(p, overrides);
  return p;
}

void apply_json(DecodeParams& p, const nlohmann::json& obj) {
  static const std::vector<std::string> kEnumKeys = {"schedule", "confidence", "commit", "cache"};
  static const std::vector<std::string> kIntKeys = {"gen_length",       "block_length", "steps",
                                                    "block_steps",      "sub_block_length",
                                                    "top_k",            "seed"};
  auto is_one_of = [](const std::vector<std::string>& keys, const std::string& k) {
    return std::find(keys.begin(), keys.end(), k) != keys.end();
  };
  if (!obj.is_object()) throw_invalid_argument("diffusion", "must be a JSON object");
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string& key = it.key();
    const nlohmann::json& v = it.value();
    std::string text;
    if (is_one_of(kEnumKeys, key)) {
      if (!v.is_string()) throw_invalid_argument(key, "must be a string");
      text = v.get<std::string>();
    } else if (v.is_null()) {
      text = "null";
    } else if (v.is_boolean()) {
      text = v.get<bool>() ? "true" : "false";
    } else if (v.is_number_integer() || v.is_number_unsigned()) {
      text = v.dump();
    } else if (v.is_number_float()) {
      const double d = v.get<double>();
      if (is_one_of(kIntKeys, key)) {
        if (std::floor(d) != d || std::fabs(d) > 1e15) throw_invalid_argument(key, "must be an integer");
        text = std::to_string(static_cast<long long>(d));  // 32.0 is accepted as 32
      } else {
        text = v.dump();
      }
    } else {
      throw_invalid_argument(key, "must be a number or boolean");
    }
    set_param(p, key, text);
  }
}

nlohmann::json to_json(const DecodeParams& p) {
  nlohmann::json j;
  j["gen_length"] = p.gen_length;
  j["block_length"] = p.block_length;
  j["steps"] = p.steps ? nlohmann::json(*p.steps) : nlohmann::json(nullptr);
  j["block_steps"] = p.block_steps ? nlohmann::json(*p.block_steps) : nlohmann::json(nullptr);
  j["schedule"] = to_string(p.schedule);
  j["eps"] = p.eps;
  j["confidence"] = to_string(p.confidence);
  j["commit"] = to_string(p.commit);
  j["threshold"] = p.threshold;
  j["sub_block_length"] =
      p.sub_block_length ? nlohmann::json(*p.sub_block_length) : nlohmann::json(nullptr);
  j["cache"] = to_string(p.cache);
  j["temperature"] = p.temperature;
  j["top_k"] = p.top_k;
  j["top_p"] = p.top_p;
  j["cfg_scale"] = p.cfg_scale;
  j["seed"] = p.seed;
  j["stop_at_eos"] = p.stop_at_eos;
  return j;
}

void validate(const DecodeParams& p, const ModelConfig& c, int prompt_len) {
  const bool aligned = c.spec->block_aligned;
  const bool block_causal = c.spec->attention == AttentionKind::kBlockCausal;
  if (prompt_len <= 0) throw_invalid_argument("prompt", "must contain at least one token");
  if (p.gen_length <= 0) throw_invalid_argument("gen_length", "must be a positive integer");
  if (p.block_length < 0 || (p.block_length == 0 && aligned)) {
    throw_invalid_argument("block_length", aligned ? "must be a positive integer"
                                                   : "must be >= 0 (0 = one block over the canvas)");
  }
  const int B = effective_block_length(p);
  if (p.steps && p.block_steps) {
    throw_invalid_argument("steps", "give either steps or block_steps, not both");
  }
  constexpr int kMaxSteps = 1 << 20;  // far beyond any canvas; bounds the schedule tables
  if (p.steps && (*p.steps <= 0 || *p.steps > kMaxSteps)) {
    throw_invalid_argument("steps", "must be a positive integer up to " + std::to_string(kMaxSteps));
  }
  if (p.block_steps && (*p.block_steps <= 0 || *p.block_steps > kMaxSteps)) {
    throw_invalid_argument("block_steps",
                           "must be a positive integer up to " + std::to_string(kMaxSteps));
  }
  if (!(p.eps > 0 && p.eps < 1)) throw_invalid_argument("eps", "must be in (0, 1)");
  if (!(p.threshold > 0 && p.threshold <= 1)) {
    throw_invalid_argument("threshold", "must be in (0, 1]");
  }
  if (p.temperature < 0) throw_invalid_argument("temperature", "must be >= 0");
  if (p.top_k < 0) throw_invalid_argument("top_k", "must be >= 0 (0 = off)");
  if (!(p.top_p > 0 && p.top_p <= 1)) throw_invalid_argument("top_p", "must be in (0, 1]");
  if (p.cfg_scale < 0) throw_invalid_argument("cfg_scale", "must be >= 0");

  int64_t canvas_end = int64_t{prompt_len} + p.gen_length;
  int64_t first_block = prompt_len, n_blocks;
  if (aligned) {
    canvas_end = (canvas_end + B - 1) / B * B;
    first_block = prompt_len / B * B;
    n_blocks = (canvas_end - first_block) / B;
  } else {
    n_blocks = (p.gen_length + B - 1) / B;  // a gen_length the block does not tile ends partial
  }
  if (canvas_end > c.max_positions) {
    throw Error(ErrorCode::kOutOfRange,
                "gen_length: prompt (" + std::to_string(prompt_len) + ") + canvas needs " +
                    std::to_string(canvas_end) + " positions, more than the model's maximum of " +
                    std::to_string(c.max_positions),
                "gen_length");
  }
  int sub = B;
  if (p.sub_block_length) {
    sub = *p.sub_block_length;
    if (sub <= 0 || B % sub != 0) {
      throw_invalid_argument("sub_block_length", "must be a positive divisor of block_length " +
                                                     std::to_string(B));
    }
  }
  const int64_t units_per_block = B / sub;
  if (p.steps && p.commit != CommitRule::kThreshold) {
    if (*p.steps % (n_blocks * units_per_block) != 0) {
      throw_invalid_argument("steps", "steps " + std::to_string(*p.steps) +
                                          " must divide evenly over the " +
                                          std::to_string(n_blocks * units_per_block) +
                                          (units_per_block > 1 ? " sub-blocks" : " blocks"));
    }
  }
  if (p.block_steps && p.commit != CommitRule::kThreshold && *p.block_steps % units_per_block != 0) {
    throw_invalid_argument("block_steps", "must divide evenly over the " +
                                              std::to_string(units_per_block) + " sub-blocks");
  }
  switch (p.cache) {
    case CacheMode::kBlock:
      if (!block_causal) {
        throw_invalid_argument("cache", "'block' needs a block-causal model (SDAR, Fast-dLLM v2); " +
                                            c.family_name() + " attends bidirectionally: use "
                                            "none, prefix or dual");
      }
      break;
    case CacheMode::kPrefix:
      if (block_causal) {
        throw_invalid_argument("cache", "'prefix' is for bidirectional models; " +
                                            c.family_name() + " has an exact 'block' cache");
      }
      break;
    default:
      break;
  }
  if (p.cfg_scale > 0) {
    if (block_causal) {
      throw_invalid_argument("cfg_scale", "classifier-free guidance is supported for "
                                          "bidirectional models (LLaDA, Dream) only");
    }
    if (p.cache != CacheMode::kNone) {
      throw_invalid_argument("cfg_scale", "classifier-free guidance needs cache 'none'");
    }
  }
}

}  // namespace dlx
