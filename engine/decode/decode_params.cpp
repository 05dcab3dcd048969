#include "engine/decode/decode_params.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "engine/decode/decode_keys.h"
#include "engine/util/error.h"

namespace dlx {

const std::vector<std::string>& decode_param_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> out;
    for (const DecodeKey& k : decode_keys()) out.emplace_back(k.name);
    return out;
  }();
  return keys;
}

// The fast bundle, chosen from tests/bench/demo_quality (README: Fewer forwards).
void apply_preset(DecodeParams& p, Preset preset) {
  p.preset = preset;
  const bool fast = preset == Preset::kFast;
  p.eos_fill = fast;
  p.eos_fill_prob = fast ? 0.3 : 0;
  p.early_commit = fast ? std::optional<double>(0.5) : std::nullopt;
  p.early_commit_steps = std::nullopt;
  p.threshold_relax = fast ? 0.3 : 0;
  p.suffix_window = std::nullopt;
}

namespace {

// `preset` sets several keys, so it goes first wherever keys arrive together; the others
// then override it whatever order they were given in.
template <typename Pairs>
void set_preset_first(DecodeParams& p, const Pairs& pairs) {
  for (const auto& [key, value] : pairs) {
    if (key == "preset") set_param(p, key, value);
  }
  for (const auto& [key, value] : pairs) {
    if (key != "preset") set_param(p, key, value);
  }
}

}  // namespace

DecodeParams default_decode_params(const ModelConfig& c) {
  const DecodingDefaults& d = c.spec->decoding;
  DecodeParams p;
  // generation_config's max_new_tokens, where the model ships one, is its own canvas length
  // (the demo model's is 32); 128 is what the reference scripts use.
  p.gen_length = c.gen_max_new_tokens > 0 ? c.gen_max_new_tokens : 128;
  p.stop_at_eos = true;  // output up to the end token is the same as decoding the whole canvas
  std::istringstream keys(d.keys);
  for (std::string kv; keys >> kv;) {
    const size_t eq = kv.find('=');
    set_param(p, kv.substr(0, eq), kv.substr(eq + 1));
  }
  p.block_length = d.block_length == DecodingDefaults::kTrainingBlock ? c.train_block_size
                                                                      : d.block_length;
  // LLaDA with steps unset: one token per step; a canvas that 32 does not tile is one block.
  if (d.one_block_unless_tiled && p.block_length > 0 && p.gen_length % p.block_length != 0) {
    p.block_length = p.gen_length;
  }
  if (p.sub_block_length && p.block_length > 0) {
    p.sub_block_length = std::min(*p.sub_block_length, p.block_length);
  }
  if (d.generation_config_sampling) {  // Dream's diffusion_generate reads these
    p.eps = c.gen_eps > 0 ? c.gen_eps : 1e-3;
    // generation_config's alg; "origin" (RNG-order reveal) is replaced by the entropy
    // ordering the authors' demos use.
    p.confidence = c.gen_alg == "maskgit_plus"  ? ConfidenceKind::kProb
                   : c.gen_alg == "topk_margin" ? ConfidenceKind::kMargin
                                                : ConfidenceKind::kNegEntropy;
    if (c.gen_temperature > 0) p.temperature = c.gen_temperature;
    if (c.gen_top_p > 0 && c.gen_top_p <= 1) p.top_p = c.gen_top_p;
    if (c.gen_top_k > 0) p.top_k = c.gen_top_k;
  }
  try {
    set_preset_first(p, c.gen_diffusion);
  } catch (const Error& e) {
    throw Error(ErrorCode::kInvalidModel,
                "generation_config.json \"diffusion\": " + std::string(e.what()), "model");
  }
  return p;
}

void set_param(DecodeParams& p, const std::string& key, const std::string& v) {
  const DecodeKey* k = find_decode_key(key);
  if (!k) throw_invalid_argument(key, "unknown decoding parameter");
  k->set(p, v);
}

DecodeParams resolve_decode_params(const ModelConfig& config, const TextOverrides& overrides) {
  DecodeParams p = default_decode_params(config);
  set_preset_first(p, overrides);
  return p;
}

DecodeParams resolve_decode_params(const ModelConfig& config, const nlohmann::json& overrides) {
  DecodeParams p = default_decode_params(config);
  apply_json(p, overrides);
  return p;
}

// JSON values of each key's type are turned into set_param's text form, so both paths parse
// the same way.
void apply_json(DecodeParams& p, const nlohmann::json& obj) {
  if (!obj.is_object()) throw_invalid_argument("diffusion", "must be a JSON object");
  // preset first (see set_preset_first); the other keys in the object's order.
  std::vector<std::pair<std::string, const nlohmann::json*>> items;
  if (obj.contains("preset")) items.emplace_back("preset", &obj.at("preset"));
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (it.key() != "preset") items.emplace_back(it.key(), &it.value());
  }
  for (const auto& [key, vp] : items) {
    const nlohmann::json& v = *vp;
    const DecodeKey* k = find_decode_key(key);
    if (!k) throw_invalid_argument(key, "unknown decoding parameter");
    std::string text;
    if (v.is_null()) {
      if (!k->nullable) throw_invalid_argument(key, "must not be null");
      text = "null";
    } else {
      switch (k->type) {
        case KeyType::kEnum:
          if (!v.is_string()) throw_invalid_argument(key, "must be a string");
          text = v.get<std::string>();
          break;
        case KeyType::kBool:
          if (!v.is_boolean()) throw_invalid_argument(key, "must be true or false");
          text = v.get<bool>() ? "true" : "false";
          break;
        case KeyType::kInt:
          if (v.is_number_integer() || v.is_number_unsigned()) {
            text = v.dump();
          } else if (v.is_number_float()) {
            const double d = v.get<double>();
            if (std::floor(d) != d || std::fabs(d) > 1e15) {
              throw_invalid_argument(key, "must be an integer");
            }
            text = std::to_string(static_cast<long long>(d));  // 32.0 is accepted as 32
          } else {
            throw_invalid_argument(key, "must be an integer");
          }
          break;
        case KeyType::kFloat:
          if (!v.is_number()) throw_invalid_argument(key, "must be a number");
          text = v.dump();
          break;
      }
    }
    k->set(p, text);
  }
}

nlohmann::json to_json(const DecodeParams& p) {
  nlohmann::json j = nlohmann::json::object();
  for (const DecodeKey& k : decode_keys()) j[k.name] = k.get(p);
  return j;
}

void validate(const DecodeParams& p, const ModelConfig& c, int prompt_len) {
  const bool aligned = c.spec->block_aligned;
  const bool block_causal = c.spec->attention == AttentionKind::kBlockCausal;
  if (prompt_len <= 0) throw_invalid_argument("prompt", "must contain at least one token");
  if (p.block_length == 0 && aligned) {
    throw_invalid_argument("block_length", "must be a positive integer (" + c.family_name() +
                                               " aligns blocks to multiples of it)");
  }
  if (p.steps && p.block_steps) {
    throw_invalid_argument("steps", "give either steps or block_steps, not both");
  }
  check_key_bounds(p);  // every bound of the key table
  const int B = effective_block_length(p);

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
      throw_invalid_argument("sub_block_length",
                             "must be a positive divisor of block_length " + std::to_string(B));
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
  if (p.block_steps && p.commit != CommitRule::kThreshold &&
      *p.block_steps % units_per_block != 0) {
    throw_invalid_argument("block_steps", "must divide evenly over the " +
                                              std::to_string(units_per_block) + " sub-blocks");
  }
  switch (p.cache) {
    case CacheMode::kBlock:
      if (!block_causal) {
        throw_invalid_argument(
            "cache", "'block' needs a block-causal model (SDAR, Fast-dLLM v2); " + c.family_name() +
                         " attends bidirectionally: use "
                         "none, prefix or dual");
      }
      break;
    case CacheMode::kPrefix:
      if (block_causal) {
        throw_invalid_argument("cache", "'prefix' is for bidirectional models; " + c.family_name() +
                                            " has an exact 'block' cache");
      }
      break;
    default:
      break;
  }
  if (p.cfg_scale > 0) {
    if (block_causal) {
      throw_invalid_argument("cfg_scale",
                             "classifier-free guidance is supported for "
                             "bidirectional models (LLaDA, Dream) only");
    }
    if (p.cache != CacheMode::kNone) {
      throw_invalid_argument("cfg_scale", "classifier-free guidance needs cache 'none'");
    }
  }
}

}  // namespace dlx
