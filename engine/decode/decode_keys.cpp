#include "engine/decode/decode_keys.h"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <sstream>

#include "engine/util/error.h"

namespace dlx {
namespace {

using nlohmann::json;

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
constexpr EnumName<Preset> kPresets[] = {{Preset::kOfficial, "official"}, {Preset::kFast, "fast"}};

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

template <typename E, size_t N>
std::vector<std::string> enum_names(const EnumName<E> (&table)[N]) {
  std::vector<std::string> out;
  for (const auto& e : table) out.emplace_back(e.name);
  return out;
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

std::optional<int> parse_opt_int32(const std::string& key, const std::string& v) {
  return is_null(v) ? std::nullopt : std::optional<int>(parse_int32(key, v));
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

std::optional<double> parse_opt_double(const std::string& key, const std::string& v) {
  return is_null(v) ? std::nullopt : std::optional<double>(parse_double(key, v));
}

json opt(const std::optional<int>& v) { return v ? json(*v) : json(nullptr); }
json opt(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

constexpr int kMaxSteps = 1 << 20;  // far beyond any canvas; bounds the schedule tables

std::vector<DecodeKey> build_table() {
  using K = KeyType;
  const KeyBound pos{1, false}, zero{0, false}, open0{0, true}, one{1, false}, open1{1, true};
  const KeyBound max_steps{kMaxSteps, false};
  return {
      {"gen_length", K::kInt, false, {}, pos, std::nullopt, "int > 0",
       "positions to generate. SDAR / Fast-dLLM v2 align blocks to absolute multiples of "
       "block_length, so their canvas ends at the next block boundary at or after prompt + "
       "gen_length",
       "generation_config max_new_tokens, else 128", "", false, 0,
       [](DecodeParams& p, const std::string& v) { p.gen_length = parse_int32("gen_length", v); },
       [](const DecodeParams& p) { return json(p.gen_length); }},
      {"block_length", K::kInt, false, {}, zero, std::nullopt, "int >= 0",
       "semi-autoregressive block size; blocks are decoded in order. A gen_length the block does "
       "not divide ends in a partial last block. 0 = one block over the whole canvas (LLaDA, "
       "Dream)",
       "family (SDAR, Fast-dLLM v2: the config's training block size)", "", false, 0,
       [](DecodeParams& p, const std::string& v) {
         p.block_length = parse_int32("block_length", v);
       },
       [](const DecodeParams& p) { return json(p.block_length); }},
      {"steps", K::kInt, true, {}, pos, max_steps, "int or null",
       "step budget over the whole canvas, divided evenly over the blocks (and sub-blocks); "
       "give steps or block_steps, not both",
       "family (one token per step)", "one token per step", false, 0,
       [](DecodeParams& p, const std::string& v) { p.steps = parse_opt_int32("steps", v); },
       [](const DecodeParams& p) { return opt(p.steps); }},
      {"block_steps", K::kInt, true, {}, pos, max_steps, "int or null",
       "step budget per block (instead of steps)", "unset", "use steps", true, 0,
       [](DecodeParams& p, const std::string& v) {
         p.block_steps = parse_opt_int32("block_steps", v);
       },
       [](const DecodeParams& p) { return opt(p.block_steps); }},
      {"schedule", K::kEnum, false, enum_names(kSchedules), std::nullopt, std::nullopt,
       "uniform, timestep",
       "tokens a step commits: uniform = n/s per step, the first n%s one more (LLaDA, SDAR); "
       "timestep = int(masked x (1 - s/t)) with t, s from float32 linspace(1, eps, S+1), last "
       "step all (Dream; bit-exact with PyTorch)",
       "family", "", true, 0,
       [](DecodeParams& p, const std::string& v) { p.schedule = parse_schedule("schedule", v); },
       [](const DecodeParams& p) { return json(to_string(p.schedule)); }},
      {"eps", K::kFloat, false, {}, open0, open1, "float in (0, 1)", "timestep schedule end",
       "generation_config eps, else 1e-3", "", true, 0.001,
       [](DecodeParams& p, const std::string& v) { p.eps = parse_double("eps", v); },
       [](const DecodeParams& p) { return json(p.eps); }},
      {"confidence", K::kEnum, false, enum_names(kConfidences), std::nullopt, std::nullopt,
       "prob, margin, neg_entropy, random",
       "candidate score: softmax probability, top1 - top2, sum p log(p + 1e-10), or seeded "
       "uniform random",
       "family (Dream: generation_config alg)", "", false, 0,
       [](DecodeParams& p, const std::string& v) {
         p.confidence = parse_confidence("confidence", v);
       },
       [](const DecodeParams& p) { return json(to_string(p.confidence)); }},
      {"commit", K::kEnum, false, enum_names(kCommits), std::nullopt, std::nullopt,
       "schedule, threshold, threshold_or_schedule",
       "k best by confidence / every position with confidence > threshold (at least the best; "
       "steps are not used) / all above threshold if at least k are, else the k best (SDAR "
       "dynamic)",
       "family", "", false, 0,
       [](DecodeParams& p, const std::string& v) { p.commit = parse_commit("commit", v); },
       [](const DecodeParams& p) { return json(to_string(p.commit)); }},
      {"threshold", K::kFloat, false, {}, open0, one, "float in (0, 1]",
       "for the threshold rules (strict >)", "family (SDAR 0.85, else 0.9)", "", false, 0.01,
       [](DecodeParams& p, const std::string& v) { p.threshold = parse_double("threshold", v); },
       [](const DecodeParams& p) { return json(p.threshold); }},
      {"sub_block_length", K::kInt, true, {}, pos, std::nullopt, "int or null",
       "fill sub-blocks of this size left to right inside a block; must divide block_length "
       "(Fast-dLLM v2)",
       "family (Fast-dLLM v2: 8)", "off", true, 0,
       [](DecodeParams& p, const std::string& v) {
         p.sub_block_length = parse_opt_int32("sub_block_length", v);
       },
       [](const DecodeParams& p) { return opt(p.sub_block_length); }},
      {"cache", K::kEnum, false, enum_names(kCaches), std::nullopt, std::nullopt,
       "none, prefix, dual, block",
       "none: recompute every step; block: exact cache of finished blocks (block-causal "
       "families); prefix / dual: Fast-dLLM's approximate caches (full forward at each block "
       "start, then recompute from the block start to the end / only the block). For "
       "block-causal families dual keeps the current block's K/V and recomputes only the "
       "sub-block once its first position is decoded",
       "family (block for SDAR and Fast-dLLM v2, else none)", "", false, 0,
       [](DecodeParams& p, const std::string& v) { p.cache = parse_cache("cache", v); },
       [](const DecodeParams& p) { return json(to_string(p.cache)); }},
      {"temperature", K::kFloat, false, {}, zero, std::nullopt, "float >= 0",
       "0 = argmax; > 0 samples from softmax(logits / T) with the seeded RNG",
       "0 (Dream: generation_config temperature)", "", false, 0.1,
       [](DecodeParams& p, const std::string& v) {
         p.temperature = parse_double("temperature", v);
       },
       [](const DecodeParams& p) { return json(p.temperature); }},
      {"top_k", K::kInt, false, {}, zero, std::nullopt, "int >= 0",
       "keep the k most likely tokens before the softmax (0 = off); shapes the confidence even "
       "at temperature 0, as in Dream",
       "0 (Dream: generation_config top_k)", "", false, 0,
       [](DecodeParams& p, const std::string& v) { p.top_k = parse_int32("top_k", v); },
       [](const DecodeParams& p) { return json(p.top_k); }},
      {"top_p", K::kFloat, false, {}, open0, one, "float in (0, 1]",
       "nucleus filter before the softmax (1 = off); applied before top_k, as in Dream",
       "1 (Dream: generation_config top_p)", "", false, 0.05,
       [](DecodeParams& p, const std::string& v) { p.top_p = parse_double("top_p", v); },
       [](const DecodeParams& p) { return json(p.top_p); }},
      {"min_p", K::kFloat, false, {}, zero, open1, "float in [0, 1)",
       "drop tokens less likely than min_p times the most likely one, after top_p and top_k "
       "(0 = off); like them it shapes the confidence",
       "0 (off)", "", true, 0.05,
       [](DecodeParams& p, const std::string& v) { p.min_p = parse_double("min_p", v); },
       [](const DecodeParams& p) { return json(p.min_p); }},
      {"cfg_scale", K::kFloat, false, {}, zero, std::nullopt, "float >= 0",
       "classifier-free guidance (LLaDA, Dream; cache none): un + (cfg+1)(cond - un), un = "
       "prompt masked",
       "0 (off)", "", true, 0.1,
       [](DecodeParams& p, const std::string& v) { p.cfg_scale = parse_double("cfg_scale", v); },
       [](const DecodeParams& p) { return json(p.cfg_scale); }},
      {"seed", K::kInt, false, {}, zero, std::nullopt, "int >= 0",
       "RNG seed; each generation owns its RNG, so equal seeds and parameters reproduce", "0", "",
       false, 0,
       [](DecodeParams& p, const std::string& v) {
         const int64_t s = parse_int("seed", v);
         if (s < 0) throw_invalid_argument("seed", "must be >= 0");
         p.seed = static_cast<uint64_t>(s);
       },
       [](const DecodeParams& p) { return json(p.seed); }},
      {"stop_at_eos", K::kBool, false, {}, std::nullopt, std::nullopt, "bool",
       "stop once an end token is committed with no mask before it; output ends with it", "true",
       "", true, 0,
       [](DecodeParams& p, const std::string& v) {
         p.stop_at_eos = parse_bool("stop_at_eos", v);
       },
       [](const DecodeParams& p) { return json(p.stop_at_eos); }},
      {"preset", K::kEnum, false, enum_names(kPresets), std::nullopt, std::nullopt,
       "official, fast",
       "official = the family's reference algorithm (every key below off); fast = the measured "
       "bundle eos_fill, early_commit, threshold_relax (README: Fewer forwards). Applied before "
       "the other keys of the same request, which override it",
       "official (the demo model: fast, from its generation_config)", "", false, 0,
       [](DecodeParams& p, const std::string& v) { apply_preset(p, parse_preset("preset", v)); },
       [](const DecodeParams& p) { return json(to_string(p.preset)); }},
      {"eos_fill", K::kBool, false, {}, std::nullopt, std::nullopt, "bool",
       "end-of-text tail fill: once an end token is committed at p, every masked position after "
       "p becomes the end token and is never computed again (blocks after p are skipped), and "
       "the masked positions right before p whose candidate is an end token are committed with "
       "it",
       "false", "", false, 0,
       [](DecodeParams& p, const std::string& v) { p.eos_fill = parse_bool("eos_fill", v); },
       [](const DecodeParams& p) { return json(p.eos_fill); }},
      {"eos_fill_prob", K::kFloat, false, {}, zero, open1, "float in [0, 1)",
       "eos_fill counts only end tokens whose probability is above this (0 = any): the committed "
       "one that starts the fill and the candidates committed with it",
       "0", "", true, 0.05,
       [](DecodeParams& p, const std::string& v) {
         p.eos_fill_prob = parse_double("eos_fill_prob", v);
       },
       [](const DecodeParams& p) { return json(p.eos_fill_prob); }},
      {"early_commit", K::kFloat, true, {}, open0, one, "float in (0, 1] or null",
       "commit every masked position of the current (sub-)block in this forward when each one's "
       "top-1 minus top-2 probability is at least this (Prophet-style early commit)",
       "null", "off", false, 0.05,
       [](DecodeParams& p, const std::string& v) {
         p.early_commit = parse_opt_double("early_commit", v);
       },
       [](const DecodeParams& p) { return opt(p.early_commit); }},
      {"early_commit_steps", K::kInt, true, {}, pos, max_steps, "int or null",
       "commit every masked position of the current (sub-)block in this forward once each one's "
       "candidate token has been the same for this many forwards in a row (Prophet's stability "
       "rule; with early_commit, either rule commits)",
       "null", "off", true, 0,
       [](DecodeParams& p, const std::string& v) {
         p.early_commit_steps = parse_opt_int32("early_commit_steps", v);
       },
       [](const DecodeParams& p) { return opt(p.early_commit_steps); }},
      {"threshold_relax", K::kFloat, false, {}, zero, open1, "float in [0, 1)",
       "adaptive threshold for the threshold rules: threshold x (1 - threshold_relax x the "
       "fraction of the (sub-)block already decoded)",
       "0 (off)", "", false, 0.05,
       [](DecodeParams& p, const std::string& v) {
         p.threshold_relax = parse_double("threshold_relax", v);
       },
       [](const DecodeParams& p) { return json(p.threshold_relax); }},
      {"suffix_window", K::kInt, true, {}, zero, std::nullopt, "int >= 0 or null",
       "bidirectional families (LLaDA, Dream): compute and attend to only this many positions "
       "after the current block instead of the whole canvas tail (block-causal families never "
       "attend to it)",
       "null", "the whole canvas", true, 0,
       [](DecodeParams& p, const std::string& v) {
         p.suffix_window = parse_opt_int32("suffix_window", v);
       },
       [](const DecodeParams& p) { return opt(p.suffix_window); }},
  };
}

const char* type_name(KeyType t) {
  switch (t) {
    case KeyType::kInt:
      return "int";
    case KeyType::kFloat:
      return "float";
    case KeyType::kBool:
      return "bool";
    case KeyType::kEnum:
      return "enum";
  }
  return "?";
}

std::string number_text(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// "must be a positive integer", "must be in (0, 1]", "must be >= 0".
std::string bound_message(const DecodeKey& k) {
  if (k.type == KeyType::kInt && k.min && k.min->value == 1 && !k.min->open) {
    return "must be a positive integer" +
           (k.max ? " up to " + number_text(k.max->value) : std::string());
  }
  if (k.min && k.max) {
    return "must be in " + std::string(k.min->open ? "(" : "[") + number_text(k.min->value) +
           ", " + number_text(k.max->value) + (k.max->open ? ")" : "]");
  }
  if (k.min) return std::string("must be ") + (k.min->open ? "> " : ">= ") + number_text(k.min->value);
  return std::string("must be ") + (k.max->open ? "< " : "<= ") + number_text(k.max->value);
}

}  // namespace

Schedule parse_schedule(const std::string& key, const std::string& v) {
  return parse_enum(kSchedules, key, v);
}
ConfidenceKind parse_confidence(const std::string& key, const std::string& v) {
  return parse_enum(kConfidences, key, v);
}
CommitRule parse_commit(const std::string& key, const std::string& v) {
  return parse_enum(kCommits, key, v);
}
CacheMode parse_cache(const std::string& key, const std::string& v) {
  return parse_enum(kCaches, key, v);
}
Preset parse_preset(const std::string& key, const std::string& v) {
  return parse_enum(kPresets, key, v);
}

const char* to_string(Schedule v) { return enum_name(kSchedules, v); }
const char* to_string(ConfidenceKind v) { return enum_name(kConfidences, v); }
const char* to_string(CommitRule v) { return enum_name(kCommits, v); }
const char* to_string(CacheMode v) { return enum_name(kCaches, v); }
const char* to_string(Preset v) { return enum_name(kPresets, v); }

const std::vector<DecodeKey>& decode_keys() {
  static const std::vector<DecodeKey> table = build_table();
  return table;
}

const DecodeKey* find_decode_key(const std::string& name) {
  for (const DecodeKey& k : decode_keys()) {
    if (name == k.name) return &k;
  }
  return nullptr;
}

json decode_key_schema() {
  json out = json::array();
  for (const DecodeKey& k : decode_keys()) {
    json j = {{"name", k.name},         {"type", type_name(k.type)},
              {"nullable", k.nullable}, {"values", k.values},
              {"doc", k.doc},           {"default_from", k.default_from},
              {"advanced", k.advanced}};
    if (k.type == KeyType::kEnum) j["options"] = k.options;
    if (k.min) j[k.min->open ? "exclusive_minimum" : "minimum"] = k.min->value;
    if (k.max) j[k.max->open ? "exclusive_maximum" : "maximum"] = k.max->value;
    if (k.nullable) j["null_means"] = k.null_means;
    if (k.ui_step > 0) j["step"] = k.ui_step;
    out.push_back(std::move(j));
  }
  return out;
}

std::string decode_keys_markdown() {
  std::string out = "| key | values | meaning | default |\n|---|---|---|---|\n";
  for (const DecodeKey& k : decode_keys()) {
    std::string doc = k.doc;
    if (k.nullable) doc += std::string("; null = ") + k.null_means;
    out += std::string("| ") + k.name + " | " + k.values + " | " + doc + " | " + k.default_from +
           " |\n";
  }
  return out;
}

void check_key_bounds(const DecodeParams& p) {
  for (const DecodeKey& k : decode_keys()) {
    if (!k.min && !k.max) continue;
    const json v = k.get(p);
    if (v.is_null()) continue;
    const double x = v.get<double>();
    const bool low = k.min && (k.min->open ? !(x > k.min->value) : !(x >= k.min->value));
    const bool high = k.max && (k.max->open ? !(x < k.max->value) : !(x <= k.max->value));
    if (low || high) throw_invalid_argument(k.name, bound_message(k));
  }
}

}  // namespace dlx
