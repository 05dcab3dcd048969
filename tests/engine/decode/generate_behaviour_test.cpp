// generate(): behaviour beyond the golden cases — step events, seeded reproducibility at
// temperature > 0, cancellation, stopping at end tokens, cache modes agreeing where exact.
#include <gtest/gtest.h>

#include <atomic>

#include "engine/decode/generate.h"
#include "engine/util/error.h"
#include "tests/support/test_util.h"

namespace dlx::test {
namespace {

std::shared_ptr<Model> load(const std::string& fam) {
  return Model::load(model_dir(fam), make_cpu_backend(1));
}

const std::vector<int32_t> kPrompt = {33, 123, 286, 185, 229, 329, 477, 465};

TEST(Generate, StepEventsDescribeEveryCommit) {
  auto m = load("llada");
  DecodeParams p = default_decode_params(m->config());
  p.gen_length = 16;
  p.block_length = 8;
  p.steps = 8;
  p.stop_at_eos = false;
  std::vector<StepEvent> events;
  std::vector<int32_t> last_canvas;
  GenerateOptions o;
  o.on_step = [&](const StepEvent& e) {
    events.push_back(e);
    last_canvas.assign(e.canvas.begin(), e.canvas.end());
  };
  GenerateResult r = generate(*m, kPrompt, p, o);
  ASSERT_EQ(events.size(), 8u);
  int committed = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].step, int(i));
    EXPECT_EQ(events[i].positions.size(), 2u);  // 8 positions in 4 steps per block
    EXPECT_EQ(events[i].tokens.size(), events[i].positions.size());
    EXPECT_EQ(events[i].confidences.size(), events[i].positions.size());
    committed += events[i].positions.size();
    EXPECT_EQ(events[i].masks_remaining, 16 - committed);
    for (size_t j = 0; j < events[i].positions.size(); ++j) {
      EXPECT_EQ(r.output_ids[events[i].positions[j]], events[i].tokens[j]);
      EXPECT_GT(events[i].confidences[j], 0.0f);
    }
  }
  EXPECT_EQ(last_canvas, r.output_ids);
  EXPECT_EQ(r.forward_calls, 8);
  EXPECT_EQ(r.step_ms.size(), 8u);
}

TEST(Generate, PartialLastBlockWhenTheBlockDoesNotTileTheCanvas) {
  // gen_length 20 over blocks of 8: two full blocks and one of 4, 4 steps each.
  auto m = load("llada");
  DecodeParams p = default_decode_params(m->config());
  p.gen_length = 20;
  p.block_length = 8;
  p.steps = 12;
  p.stop_at_eos = false;
  std::vector<size_t> per_step;
  GenerateOptions o;
  o.on_step = [&](const StepEvent& e) { per_step.push_back(e.positions.size()); };
  GenerateResult r = generate(*m, kPrompt, p, o);
  ASSERT_EQ(r.output_ids.size(), 20u);
  for (int32_t id : r.output_ids) EXPECT_NE(id, m->config().mask_id);
  EXPECT_EQ(r.forward_calls, 12);
  ASSERT_EQ(per_step.size(), 12u);
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(per_step[i], 2u) << i;   // 8 positions in 4 steps
  for (size_t i = 8; i < 12; ++i) EXPECT_EQ(per_step[i], 1u) << i;  // 4 positions in 4 steps
}

TEST(Generate, SeededSamplingReproducesAndSeedsDiffer) {
  for (const char* fam : {"llada", "dream", "sdar", "fast_dllm_v2"}) {
    auto m = load(fam);
    DecodeParams p = default_decode_params(m->config());
    p.gen_length = 16;
    if (!m->spec().block_aligned) p.block_length = 16;
    p.steps = 16;
    p.block_steps.reset();
    p.temperature = 1.0;
    p.stop_at_eos = false;
    p.seed = 1;
    auto a = generate(*m, kPrompt, p).output_ids;
    auto b = generate(*m, kPrompt, p).output_ids;
    p.seed = 2;
    auto c = generate(*m, kPrompt, p).output_ids;
    EXPECT_EQ(a, b) << fam;
    EXPECT_NE(a, c) << fam;
  }
}

TEST(Generate, CancelStopsBeforeTheNextForward) {
  auto m = load("llada");
  DecodeParams p = default_decode_params(m->config());
  p.gen_length = 32;
  p.block_length = 8;
  p.steps = 32;
  std::atomic<bool> cancel{false};
  int seen = 0;
  GenerateOptions o;
  o.cancel = &cancel;
  o.on_step = [&](const StepEvent&) {
    if (++seen == 3) cancel = true;
  };
  try {
    generate(*m, kPrompt, p, o);
    FAIL() << "expected cancellation";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCancelled);
  }
  EXPECT_EQ(seen, 3);
}

TEST(Generate, APassedDeadlineIsATimeoutNotACancel) {
  auto m = load("llada");
  DecodeParams p = default_decode_params(m->config());
  p.gen_length = 32;
  p.block_length = 8;
  p.steps = 32;
  int seen = 0;
  GenerateOptions o;
  o.on_step = [&](const StepEvent&) { ++seen; };
  o.deadline = std::chrono::steady_clock::now();
  try {
    generate(*m, kPrompt, p, o);
    FAIL() << "expected a timeout";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kTimeout) << e.what();
  }
  EXPECT_EQ(seen, 0);
}

TEST(Generate, StopsAtTheFirstFinalEndToken) {
  // Force an end token: make every block-causal decode stop as soon as it is committed.
  auto m = load("fast_dllm_v2");
  auto cases = nlohmann::json::parse(read_file(model_dir("fast_dllm_v2") + "/cases.json"));
  for (const auto& c : cases["cases"]) {
    if (!c["required"].get<bool>() || !c["diffulex"]["stop_at_eos"].get<bool>()) continue;
    auto ids = c["expected_ids"].get<std::vector<int32_t>>();
    if (ids.empty() || !m->config().is_end_token(ids.back())) continue;
    DecodeParams p = default_decode_params(m->config());
    apply_json(p, c["diffulex"]);
    auto r = generate(*m, c["prompt_ids"].get<std::vector<int32_t>>(), p);
    EXPECT_EQ(r.finish_reason, FinishReason::kStop);
    EXPECT_TRUE(m->config().is_end_token(r.output_ids.back()));
    for (size_t i = 0; i + 1 < r.output_ids.size(); ++i) {
      EXPECT_FALSE(m->config().is_end_token(r.output_ids[i]));
    }
    return;
  }
  GTEST_SKIP() << "no fixture case ends with an end token";
}

TEST(Generate, ExactCachesMatchRecomputation) {
  // For block-causal families the block cache is exact: same ids as recomputing everything.
  for (const char* fam : {"sdar", "fast_dllm_v2"}) {
    auto m = load(fam);
    DecodeParams p = default_decode_params(m->config());
    p.gen_length = 20;
    p.stop_at_eos = false;
    p.cache = CacheMode::kBlock;
    auto cached = generate(*m, kPrompt, p);
    p.cache = CacheMode::kNone;
    auto full = generate(*m, kPrompt, p);
    EXPECT_EQ(cached.output_ids, full.output_ids) << fam;
  }
}

TEST(Generate, RejectsOutOfVocabularyPromptAndEmptyPrompt) {
  auto m = load("llada");
  DecodeParams p = default_decode_params(m->config());
  std::vector<int32_t> bad = {1, 2, 100000};
  EXPECT_THROW(generate(*m, bad, p), Error);
  EXPECT_THROW(generate(*m, std::vector<int32_t>{}, p), Error);
}

}  // namespace
}  // namespace dlx::test
