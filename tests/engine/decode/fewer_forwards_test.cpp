// The keys that trade exactness for fewer forwards (eos_fill, early_commit, threshold_relax,
// suffix_window, preset): each does what it claims on the four fixture families, never loops
// and never runs a forward that commits nothing; off, the loop is the official one (the golden
// tests check that token for token).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "engine/decode/decode_keys.h"
#include "engine/decode/generate.h"
#include "engine/util/error.h"
#include "tests/support/test_util.h"

namespace dlx::test {
namespace {

namespace fs = std::filesystem;

const char* const kFamilies[] = {"llada", "dream", "sdar", "fast_dllm_v2"};
const std::vector<int32_t> kPrompt = {33, 123, 286, 185, 229, 329, 477, 465};

std::shared_ptr<Model> load(const std::string& dir) {
  return Model::load(dir, make_cpu_backend(1));
}

// A canvas of 32 in blocks of 16 (block-aligned families keep their training block).
DecodeParams base_params(const Model& m) {
  DecodeParams p = default_decode_params(m.config());
  p.gen_length = 32;
  if (!m.spec().block_aligned) p.block_length = 16;
  p.stop_at_eos = false;
  return p;
}

struct Decoded {
  GenerateResult r;
  std::vector<StepEvent> events;  // canvas cleared
};

Decoded run(const Model& m, const DecodeParams& p) {
  Decoded out;
  GenerateOptions o;
  o.on_step = [&](const StepEvent& e) {
    out.events.push_back(e);
    out.events.back().canvas = {};
  };
  out.r = generate(m, kPrompt, p, o);
  return out;
}

// Every forward commits something (threshold_or_schedule may spend a forward whose schedule
// asks for 0 tokens and that nothing passes: its bounded schedule advances, as officially), the
// loop ends with no mask left, and it needs at most one forward per position plus the
// block-causal families' one block-boundary forward per block.
void expect_progress(const Model& m, const Decoded& x, const DecodeParams& p,
                     const std::string& what) {
  if (p.commit != CommitRule::kThresholdOrSchedule) {
    for (const StepEvent& e : x.events) EXPECT_FALSE(e.positions.empty()) << what;
  }
  for (int32_t id : x.r.output_ids) EXPECT_NE(id, m.config().mask_id) << what;
  const int n = static_cast<int>(x.r.output_ids.size());
  const int blocks = n / effective_block_length(p) + 2;
  const int most = p.commit == CommitRule::kThresholdOrSchedule ? 2 * n : n;
  EXPECT_LE(x.r.forward_calls, most + blocks) << what;
}

// The fixture in a temporary folder whose end token is `eos`: a random model rarely commits its
// real end token, so the test names one the model does commit.
class ModelWithEndToken {
 public:
  ModelWithEndToken(const std::string& family, int32_t eos)
      : dir_(fs::temp_directory_path() / ("dlx_eos_" + family + "_" + std::to_string(::getpid()))) {
    fs::create_directories(dir_);
    for (const auto& e : fs::directory_iterator(model_dir(family))) {
      if (e.is_regular_file())
        fs::copy_file(e.path(), dir_ / e.path().filename(), fs::copy_options::overwrite_existing);
    }
    nlohmann::json g = nlohmann::json::parse(read_file((dir_ / "generation_config.json").string()));
    g["eos_token_id"] = eos;
    std::ofstream(dir_ / "generation_config.json") << g.dump();
    model = load(dir_.string());
  }
  ~ModelWithEndToken() {
    model.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::shared_ptr<Model> model;

 private:
  fs::path dir_;
};

// The token the official decode commits most often: with it as the end token, end tokens are
// committed early and in the middle of the canvas.
int32_t most_common_token(const std::vector<int32_t>& ids) {
  std::map<int32_t, int> n;
  for (int32_t id : ids) ++n[id];
  return std::max_element(n.begin(), n.end(),
                          [](const auto& a, const auto& b) { return a.second < b.second; })
      ->first;
}

TEST(FewerForwards, EveryKeyIsOffUnderTheOfficialPreset) {
  for (const char* fam : kFamilies) {
    auto m = load(model_dir(fam));
    const DecodeParams p = default_decode_params(m->config());
    EXPECT_EQ(p.preset, Preset::kOfficial) << fam;
    EXPECT_FALSE(p.eos_fill) << fam;
    EXPECT_FALSE(p.early_commit) << fam;
    EXPECT_EQ(p.threshold_relax, 0) << fam;
    EXPECT_FALSE(p.suffix_window) << fam;
  }
}

TEST(FewerForwards, PresetGoesFirstSoExplicitKeysOverrideIt) {
  auto m = load(model_dir("llada"));
  const ModelConfig& c = m->config();
  DecodeParams j =
      resolve_decode_params(c, nlohmann::json{{"eos_fill", false}, {"preset", "fast"}});
  EXPECT_EQ(j.preset, Preset::kFast);
  EXPECT_FALSE(j.eos_fill);
  EXPECT_TRUE(j.early_commit);
  DecodeParams t =
      resolve_decode_params(c, TextOverrides{{"threshold_relax", "0"}, {"preset", "fast"}});
  EXPECT_EQ(t.threshold_relax, 0);
  EXPECT_TRUE(t.eos_fill);
  // official switches every key off again; to_json round-trips.
  DecodeParams o = t;
  set_param(o, "preset", "official");
  EXPECT_FALSE(o.eos_fill);
  EXPECT_FALSE(o.early_commit);
  DecodeParams back = default_decode_params(c);
  apply_json(back, to_json(t));
  EXPECT_EQ(to_json(back), to_json(t));
  EXPECT_THROW(set_param(o, "preset", "turbo"), Error);
  set_param(o, "early_commit", "0");  // parses; validate() rejects the bound (0, 1]
  EXPECT_THROW(validate(o, c, 8), Error);
}

TEST(FewerForwards, AnswerTokensStopAtTheFirstEndToken) {
  auto m = load(model_dir("llada"));
  const int32_t eos = m->config().eos_ids.at(0);
  const std::vector<int32_t> ids = {5, 6, eos, eos, eos};
  EXPECT_EQ(answer_token_count(ids, m->config()), 3);
  EXPECT_EQ(answer_token_count(std::vector<int32_t>{5, 6}, m->config()), 2);
  EXPECT_EQ(answer_token_count(std::vector<int32_t>{}, m->config()), 0);
}

TEST(FewerForwards, EosFillNeverComputesAPositionAfterTheFirstCommittedEndToken) {
  for (const char* fam : kFamilies) {
    for (CacheMode cache :
         {CacheMode::kNone, CacheMode::kPrefix, CacheMode::kDual, CacheMode::kBlock}) {
      auto probe = load(model_dir(fam));
      DecodeParams p = base_params(*probe);
      const bool causal = probe->spec().attention == AttentionKind::kBlockCausal;
      if (causal ? cache == CacheMode::kPrefix : cache == CacheMode::kBlock) continue;
      p.cache = cache;
      const int32_t eos = most_common_token(run(*probe, p).r.output_ids);
      ModelWithEndToken fixture(fam, eos);
      const Model& m = *fixture.model;
      const std::string what = std::string(fam) + " cache " + to_string(cache);
      const Decoded official = run(m, p);
      p.eos_fill = true;
      const Decoded filled = run(m, p);
      expect_progress(m, filled, p, what);
      EXPECT_LT(filled.r.forward_calls, official.r.forward_calls) << what;
      ASSERT_GE(filled.r.end_from, 0) << what;
      // Once the tail is filled, no forward computes or attends past it.
      const int P = static_cast<int>(kPrompt.size());
      int limit = P + 32 + 64;  // the canvas (aligned families round it up)
      for (const StepEvent& e : filled.events) {
        EXPECT_LE(e.span_end, limit) << what << " step " << e.step;
        EXPECT_LE(e.keys_end, limit) << what << " step " << e.step;
        if (e.end_from >= 0) limit = P + e.end_from;
      }
      // The tail is end tokens from the first committed one on (positions committed before the
      // fill keep their token), and the answer ends at it.
      const int first_end = filled.r.end_from - 1;
      EXPECT_EQ(filled.r.output_ids[first_end], eos) << what;
      for (int i = 0; i < first_end; ++i) EXPECT_NE(filled.r.output_ids[i], eos) << what;
      EXPECT_EQ(filled.r.answer_tokens, first_end + 1) << what;
      // With stop_at_eos the loop ends there too.
      p.stop_at_eos = true;
      const Decoded stopped = run(m, p);
      EXPECT_EQ(stopped.r.finish_reason, FinishReason::kStop) << what;
      EXPECT_EQ(stopped.r.output_ids.back(), eos) << what;
      EXPECT_EQ(static_cast<int>(stopped.r.output_ids.size()), stopped.r.answer_tokens) << what;
    }
  }
}

TEST(FewerForwards, EosFillCountsOnlyLikelyEndTokens) {
  auto probe = load(model_dir("llada"));
  DecodeParams p = base_params(*probe);  // LLaDA: confidence = probability
  const int32_t eos = most_common_token(run(*probe, p).r.output_ids);
  ModelWithEndToken fixture("llada", eos);
  const Decoded official = run(*fixture.model, p);
  p.eos_fill = true;
  const Decoded any = run(*fixture.model, p);
  ASSERT_GE(any.r.end_from, 0);
  // The most likely end token the official decode ever commits: with eos_fill_prob at it, no
  // end token qualifies (strict >) and the decode is the official one.
  double most = 0;
  for (const StepEvent& e : official.events) {
    for (size_t i = 0; i < e.tokens.size(); ++i) {
      if (e.tokens[i] == eos) most = std::max(most, static_cast<double>(e.confidences[i]));
    }
  }
  ASSERT_GT(most, 0);
  p.eos_fill_prob = std::min(0.999, most * 1.001);
  const Decoded never = run(*fixture.model, p);
  EXPECT_EQ(never.r.end_from, -1);
  EXPECT_EQ(never.r.output_ids, official.r.output_ids);
  EXPECT_EQ(never.r.forward_calls, official.r.forward_calls);
}

TEST(FewerForwards, EarlyCommitCommitsTheWholeBlockWhenMarginsAreLarge) {
  for (const char* fam : kFamilies) {
    auto m = load(model_dir(fam));
    DecodeParams p = base_params(*m);
    p.sub_block_length.reset();
    const Decoded official = run(*m, p);
    // A bound every gap meets (the smallest positive double): one forward per block commits
    // all of it.
    p.early_commit = 4.9e-324;
    const Decoded early = run(*m, p);
    expect_progress(*m, early, p, fam);
    // Each block is done in its first denoising forward. Shifted block-causal families also
    // report, under the block, the greedy commits of the first token after it (finish_block)
    // and, for block 0, after the prompt (prefill): up to three events.
    std::map<int, int> events_per_block;
    for (const StepEvent& e : early.events) ++events_per_block[e.block];
    const int most = m->spec().block_aligned && m->spec().shift_logits ? 3 : 1;
    for (const auto& [block, n] : events_per_block) EXPECT_LE(n, most) << fam << " block " << block;
    EXPECT_LT(early.r.forward_calls, official.r.forward_calls) << fam;
    // A bound no gap meets (gaps are < 1 unless one token has all the probability): the
    // official decode, token for token.
    p.early_commit = 1.0;
    const Decoded never = run(*m, p);
    EXPECT_EQ(never.r.output_ids, official.r.output_ids) << fam;
    EXPECT_EQ(never.r.forward_calls, official.r.forward_calls) << fam;
  }
}

TEST(FewerForwards, EarlyCommitAfterStableStepsCommitsTheWholeBlock) {
  for (const char* fam : kFamilies) {
    auto m = load(model_dir(fam));
    DecodeParams p = base_params(*m);
    p.sub_block_length.reset();
    const Decoded official = run(*m, p);
    // One forward of the same candidates is enough: each block is done in its first forward.
    p.early_commit_steps = 1;
    const Decoded early = run(*m, p);
    expect_progress(*m, early, p, fam);
    std::map<int, int> events_per_block;
    for (const StepEvent& e : early.events) ++events_per_block[e.block];
    const int most = m->spec().block_aligned && m->spec().shift_logits ? 3 : 1;  // see above
    for (const auto& [block, n] : events_per_block) EXPECT_LE(n, most) << fam << " block " << block;
    EXPECT_LT(early.r.forward_calls, official.r.forward_calls) << fam;
    // Two in a row: never more forwards than the official decode, still every block finished.
    p.early_commit_steps = 2;
    const Decoded two = run(*m, p);
    expect_progress(*m, two, p, fam);
    EXPECT_LE(two.r.forward_calls, official.r.forward_calls) << fam;
    // More forwards in a row than a block has positions: never fires, the official decode.
    p.early_commit_steps = 1000;
    const Decoded never = run(*m, p);
    EXPECT_EQ(never.r.output_ids, official.r.output_ids) << fam;
    EXPECT_EQ(never.r.forward_calls, official.r.forward_calls) << fam;
  }
}

TEST(FewerForwards, AdaptiveThresholdRelaxesWithTheDecodedFraction) {
  for (const char* fam : kFamilies) {
    auto m = load(model_dir(fam));
    DecodeParams p = base_params(*m);
    p.sub_block_length.reset();
    p.commit = CommitRule::kThreshold;
    p.threshold = 0.9;
    const Decoded official = run(*m, p);
    p.threshold_relax = 0;
    EXPECT_EQ(run(*m, p).r.output_ids, official.r.output_ids) << fam;
    p.threshold_relax = 0.95;
    const Decoded relaxed = run(*m, p);
    expect_progress(*m, relaxed, p, fam);
    EXPECT_LE(relaxed.r.forward_calls, official.r.forward_calls) << fam;
    // Every commit of more than one position is above the relaxed threshold of its step. (The
    // fraction may be one higher than counted here: shifted block-causal families commit a
    // block's first token in the previous block's event.)
    const int B = effective_block_length(p);
    std::map<int, int> decoded;  // block -> positions committed so far
    for (const StepEvent& e : relaxed.events) {
      const double fraction = std::min(1.0, static_cast<double>(decoded[e.block] + 1) / B);
      const double thr = p.threshold * (1 - p.threshold_relax * fraction);
      if (e.positions.size() > 1) {
        for (float conf : e.confidences) EXPECT_GT(conf, thr - 1e-6) << fam;
      }
      decoded[e.block] += static_cast<int>(e.positions.size());
    }
  }
}

TEST(FewerForwards, SuffixWindowBoundsWhatBidirectionalForwardsSee) {
  for (const char* fam : {"llada", "dream"}) {
    auto m = load(model_dir(fam));
    for (CacheMode cache : {CacheMode::kNone, CacheMode::kPrefix, CacheMode::kDual}) {
      DecodeParams p = base_params(*m);
      p.block_length = 8;
      p.cache = cache;
      const Decoded official = run(*m, p);
      p.suffix_window = 64;  // past the canvas end: the official decode
      EXPECT_EQ(run(*m, p).r.output_ids, official.r.output_ids) << fam;
      p.suffix_window = 4;
      const Decoded windowed = run(*m, p);
      expect_progress(*m, windowed, p, fam);
      const int P = static_cast<int>(kPrompt.size());
      for (const StepEvent& e : windowed.events) {
        const int block_end = P + (e.block + 1) * 8;
        EXPECT_LE(e.span_end, block_end + 4) << fam << " step " << e.step;
        EXPECT_LE(e.keys_end, block_end + 4) << fam << " step " << e.step;
      }
      int64_t official_tokens = official.r.forward_tokens;
      EXPECT_LT(windowed.r.forward_tokens, official_tokens) << fam;
    }
  }
}

TEST(FewerForwards, FastPresetTerminatesOnEveryFamilyAndRule) {
  for (const char* fam : kFamilies) {
    auto m = load(model_dir(fam));
    for (CommitRule rule :
         {CommitRule::kSchedule, CommitRule::kThreshold, CommitRule::kThresholdOrSchedule}) {
      DecodeParams p = base_params(*m);
      p.commit = rule;
      const Decoded official = run(*m, p);
      expect_progress(*m, official, p, std::string("official ") + fam + " " + to_string(rule));
      apply_preset(p, Preset::kFast);
      const Decoded fast = run(*m, p);
      expect_progress(*m, fast, p, std::string(fam) + " " + to_string(rule));
      EXPECT_LE(fast.r.forward_calls, official.r.forward_calls) << fam;
      p.temperature = 0.7;  // sampled candidates too
      expect_progress(*m, run(*m, p), p, std::string(fam) + " sampled");
    }
  }
}

}  // namespace
}  // namespace dlx::test
