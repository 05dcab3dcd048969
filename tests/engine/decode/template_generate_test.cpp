// Canvas templates (infill): fixed tokens never change, holes are filled, variable holes end
// and are trimmed, constraints hold at every commit, a prompt + one final hole is today's
// generation on every family, and block-causal families refuse what their attention cannot see.
#include "engine/decode/template_generate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/decode/template_text.h"
#include "engine/decode/text_streamer.h"
#include "engine/model/model.h"
#include "engine/util/error.h"
#include "tests/support/golden_cases.h"
#include "tests/support/test_util.h"

namespace dlx::test {
namespace {

const char* const kFamilies[] = {"llada", "dream", "sdar", "fast_dllm_v2"};

std::shared_ptr<Model> model_for(const std::string& family) {
  static std::map<std::string, std::shared_ptr<Model>> cache;
  auto& m = cache[family];
  if (!m) m = Model::load(model_dir(family), make_cpu_backend(1));
  return m;
}

std::shared_ptr<Tokenizer> tokenizer_for(const std::string& family) {
  static std::map<std::string, std::shared_ptr<Tokenizer>> cache;
  auto& t = cache[family];
  if (!t) t = Tokenizer::load(model_dir(family));
  return t;
}

// Tokens whose text is one or more ASCII digits.
class DigitsOnly : public TokenConstraint {
 public:
  explicit DigitsOnly(const Tokenizer& tok, int vocab) : ok_(vocab, false) {
    for (int v = 0; v < vocab && static_cast<size_t>(v) < tok.vocab_size(); ++v) {
      const std::string s = tok.decode(std::vector<int32_t>{v}, false);
      ok_[v] = !s.empty() &&
               std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    }
  }
  void restrict(int, std::span<const int32_t>, int32_t, std::span<float> logits) const override {
    for (size_t v = 0; v < logits.size(); ++v) {
      if (v >= ok_.size() || !ok_[v]) logits[v] = -std::numeric_limits<float>::infinity();
    }
  }
  bool allowed(int, std::span<const int32_t>, int32_t, int32_t token) const override {
    return token >= 0 && static_cast<size_t>(token) < ok_.size() && ok_[token];
  }

 private:
  std::vector<bool> ok_;
};

// Digits, each at most once in the hole: the same-step re-check must defer a duplicate.
class DistinctDigits : public DigitsOnly {
 public:
  using DigitsOnly::DigitsOnly;
  void restrict(int i, std::span<const int32_t> hole, int32_t mask,
                std::span<float> logits) const override {
    DigitsOnly::restrict(i, hole, mask, logits);
    for (int32_t t : hole) {
      if (t != mask) logits[t] = -std::numeric_limits<float>::infinity();
    }
  }
  bool allowed(int i, std::span<const int32_t> hole, int32_t mask, int32_t token) const override {
    return DigitsOnly::allowed(i, hole, mask, token) &&
           std::find(hole.begin(), hole.end(), token) == hole.end();
  }
};

// Offsets below k: any token but an end token; from k on: end tokens only.
class EndAt : public TokenConstraint {
 public:
  EndAt(int k, std::vector<int32_t> ends) : k_(k), ends_(std::move(ends)) {}
  void restrict(int i, std::span<const int32_t>, int32_t, std::span<float> logits) const override {
    for (size_t v = 0; v < logits.size(); ++v) {
      if (is_end(static_cast<int32_t>(v)) != (i >= k_)) {
        logits[v] = -std::numeric_limits<float>::infinity();
      }
    }
  }
  bool allowed(int i, std::span<const int32_t>, int32_t, int32_t token) const override {
    return is_end(token) == (i >= k_);
  }

 private:
  bool is_end(int32_t t) const { return std::find(ends_.begin(), ends_.end(), t) != ends_.end(); }
  int k_;
  std::vector<int32_t> ends_;
};

// A decoding that runs several steps per block on every family.
DecodeParams small_params(const Model& m, int block) {
  DecodeParams p = default_decode_params(m.config());
  p.block_length = block;
  p.steps.reset();
  p.block_steps = block / 2;
  p.stop_at_eos = false;
  if (p.sub_block_length) p.sub_block_length = std::min(*p.sub_block_length, block);
  return p;
}

TEST(TemplateGenerate, PromptAndOneFinalHoleIsTheGoldenGeneration) {
  for (const char* fam : kFamilies) {
    auto j = nlohmann::json::parse(read_file(model_dir(fam) + "/cases.json"));
    auto m = model_for(fam);
    int checked = 0;
    for (const auto& c : j["cases"]) {
      if (!c["required"].get<bool>()) continue;
      const DecodeParams p = golden_case_params(m->config(), c);
      CanvasSpec spec;
      spec.prompt = c["prompt_ids"].get<std::vector<int32_t>>();
      spec.region.assign(p.gen_length, m->config().mask_id);
      CanvasHole h;
      h.length = h.min_tokens = p.gen_length;
      h.part = 1;
      spec.holes.push_back(h);
      const GenerateResult r = generate(*m, spec, p);
      EXPECT_EQ(r.output_ids, c["expected_ids"].get<std::vector<int32_t>>()) << fam << c["id"];
      ++checked;
    }
    EXPECT_GT(checked, 0) << fam;
  }
}

TEST(TemplateGenerate, TextTemplateWithOneFinalHoleEqualsPlainGenerate) {
  for (const char* fam : kFamilies) {
    auto m = model_for(fam);
    auto tok = tokenizer_for(fam);
    DecodeParams p = small_params(*m, 8);
    p.gen_length = 12;
    const std::string prompt = "the quick brown fox";
    const GenerateResult plain = generate(*m, tok->encode(prompt, true), p);
    CanvasTemplate t;
    t.parts = {CanvasPart::fixed(prompt), CanvasPart::hole(12)};
    const TemplateResult r = generate_template(*m, *tok, t, p);
    EXPECT_EQ(r.gen.output_ids, plain.output_ids) << fam;
    EXPECT_EQ(r.gen.forward_calls, plain.forward_calls) << fam;
    ASSERT_EQ(r.holes.size(), 1u);
    std::vector<int32_t> answer(
        plain.output_ids.begin(),
        plain.output_ids.begin() + answer_token_count(plain.output_ids, m->config()));
    if (!answer.empty() && m->config().is_end_token(answer.back())) answer.pop_back();
    if (answer.size() > 12) answer.resize(12);  // an aligned tail is decoded, not in the hole
    EXPECT_EQ(r.holes[0], answer) << fam;
    EXPECT_EQ(r.text, tok->decode(answer, true)) << fam;
  }
}

TEST(TemplateGenerate, FixedTokensNeverChangeAndHolesAreFilled) {
  for (const char* fam : kFamilies) {
    auto m = model_for(fam);
    auto tok = tokenizer_for(fam);
    const ModelConfig& c = m->config();
    DecodeParams p = small_params(*m, 32);  // one block: block-causal families see it all
    CanvasTemplate t;
    t.parts = {CanvasPart::fixed("once upon a time"), CanvasPart::hole(3),
               CanvasPart::fixed(" the end of"), CanvasPart::hole(4), CanvasPart::fixed(" ok")};
    const CanvasSpec spec = tokenize_template(t, *tok, c);
    std::set<int> fixed;
    for (int q = 0; q < static_cast<int>(spec.region.size()); ++q) {
      if (spec.region[q] != c.mask_id) fixed.insert(q);
    }
    int events = 0;
    GenerateOptions o;
    o.on_step = [&](const StepEvent& e) {
      ++events;
      for (int pos : e.positions) EXPECT_FALSE(fixed.count(pos)) << fam << " position " << pos;
      for (int q : fixed) EXPECT_EQ(e.canvas[q], spec.region[q]) << fam;
    };
    const GenerateResult g = generate(*m, spec, p, o);
    EXPECT_GT(events, 0);
    ASSERT_GE(g.output_ids.size(), spec.region.size());
    for (int q = 0; q < static_cast<int>(spec.region.size()); ++q) {
      EXPECT_NE(g.output_ids[q], c.mask_id) << fam;
      if (fixed.count(q)) {
        EXPECT_EQ(g.output_ids[q], spec.region[q]) << fam;
      }
    }
    for (const CanvasHole& h : spec.holes) {  // exact holes followed by text: no end tokens
      for (int k = 0; k < h.length; ++k) EXPECT_FALSE(c.is_end_token(g.output_ids[h.begin + k]));
    }
    const TemplateResult r = template_result(spec, g, *tok, c);
    ASSERT_EQ(r.holes.size(), 2u);
    EXPECT_EQ(r.holes[0].size(), 3u);
    EXPECT_EQ(r.holes[1].size(), 4u);
    EXPECT_EQ(r.text, r.hole_texts[0] + " the end of" + r.hole_texts[1] + " ok") << fam;
  }
}

TEST(TemplateGenerate, VariableHoleEndsAndIsTrimmed) {
  for (const char* fam : {"llada", "dream"}) {
    auto m = model_for(fam);
    auto tok = tokenizer_for(fam);
    const ModelConfig& c = m->config();
    DecodeParams p = small_params(*m, 16);
    CanvasTemplate t;
    CanvasPart hole = CanvasPart::hole_range(1, 6);
    hole.constraint = std::make_shared<EndAt>(2, c.eos_ids);
    t.parts = {CanvasPart::fixed("a b c"), hole, CanvasPart::fixed(" tail text")};
    const CanvasSpec spec = tokenize_template(t, *tok, c);
    std::vector<int32_t> streamed_text_canvas;
    GenerateOptions o;
    o.on_step = [&](const StepEvent& e) {
      streamed_text_canvas.assign(e.text_canvas.begin(), e.text_canvas.end());
    };
    const GenerateResult g = generate(*m, spec, p, o);
    const TemplateResult r = template_result(spec, g, *tok, c);
    ASSERT_EQ(r.holes[0].size(), 2u) << fam;
    for (int k = 2; k < 6; ++k) EXPECT_TRUE(c.is_end_token(g.output_ids[k])) << fam << k;
    // The text reads the region without the hole's end tokens.
    std::vector<int32_t> want = r.holes[0];
    want.insert(want.end(), spec.region.begin() + 6, spec.region.end());
    EXPECT_EQ(g.text_ids, want) << fam;
    EXPECT_EQ(streamed_text_canvas, want) << fam;
    EXPECT_EQ(r.text, r.hole_texts[0] + " tail text");
    EXPECT_EQ(g.finish_reason, FinishReason::kLength);
  }
}

TEST(TemplateGenerate, VariableHoleForbidsEndTokensBeforeItsMinimum) {
  auto m = model_for("llada");
  const ModelConfig& c = m->config();
  DecodeParams p = small_params(*m, 8);
  CanvasSpec spec;
  spec.prompt = {33, 123, 286, 185};
  spec.region.assign(8, c.mask_id);
  CanvasHole h;
  h.length = 8;
  h.min_tokens = 5;
  // End tokens only from offset 5, the minimum: the hole holds exactly 5 tokens.
  h.constraint = std::make_shared<EndAt>(5, c.eos_ids);
  spec.holes.push_back(h);
  const GenerateResult g = generate(*m, spec, p);
  const auto holes = hole_contents(spec, g.output_ids, c);
  EXPECT_EQ(holes[0].size(), 5u);
  EXPECT_EQ(g.finish_reason, FinishReason::kLength);  // stop_at_eos off
}

TEST(TemplateGenerate, ConstraintHoldsAtEveryCommit) {
  for (const char* fam : kFamilies) {
    auto m = model_for(fam);
    auto tok = tokenizer_for(fam);
    const ModelConfig& c = m->config();
    for (const CommitRule rule : {CommitRule::kSchedule, CommitRule::kThreshold}) {
      DecodeParams p = small_params(*m, 16);
      p.commit = rule;
      p.threshold = 1e-6;  // threshold: every candidate at once, so the re-check must defer
      CanvasTemplate t;
      CanvasPart digits = CanvasPart::hole(6);
      digits.constraint = std::make_shared<DistinctDigits>(*tok, c.vocab);
      t.parts = {CanvasPart::fixed("pin:"), digits, CanvasPart::fixed(".")};
      const CanvasSpec spec = tokenize_template(t, *tok, c);
      GenerateOptions o;
      o.on_step = [&](const StepEvent& e) {
        EXPECT_FALSE(e.positions.empty()) << fam;  // every step commits
      };
      const GenerateResult g = generate(*m, spec, p, o);
      const TemplateResult r = template_result(spec, g, *tok, c);
      ASSERT_EQ(r.holes[0].size(), 6u) << fam;
      std::set<int32_t> seen(r.holes[0].begin(), r.holes[0].end());
      EXPECT_EQ(seen.size(), 6u) << fam;
      for (char ch : r.hole_texts[0]) EXPECT_TRUE(ch >= '0' && ch <= '9') << fam << r.hole_texts[0];
    }
  }
}

TEST(TemplateGenerate, SampledConstraintHolds) {
  auto m = model_for("dream");
  auto tok = tokenizer_for("dream");
  DecodeParams p = small_params(*m, 16);
  p.temperature = 1.0;
  p.seed = 7;
  CanvasTemplate t;
  CanvasPart digits = CanvasPart::hole(5);
  digits.constraint = std::make_shared<DigitsOnly>(*tok, m->config().vocab);
  t.parts = {CanvasPart::fixed("x ="), digits};
  const TemplateResult r = generate_template(*m, *tok, t, p);
  ASSERT_EQ(r.holes[0].size(), 5u);
  for (char ch : r.hole_texts[0]) EXPECT_TRUE(ch >= '0' && ch <= '9');
}

// SDAR (block-causal, aligned) with blocks of 4 after a 5-token prompt: blocks [4, 8), [8, 12).
TEST(TemplateGenerate, BlockCausalFamiliesServeWhatTheirAttentionSees) {
  for (const char* fam : {"sdar", "fast_dllm_v2"}) {
    auto m = model_for(fam);
    const ModelConfig& c = m->config();
    DecodeParams p = small_params(*m, 4);
    const int32_t M = c.mask_id;
    auto spec_of = [&](std::vector<int32_t> region, std::vector<std::pair<int, int>> holes) {
      CanvasSpec s;
      s.prompt = {33, 123, 286, 185, 229};
      s.region = std::move(region);
      int part = 1;
      for (auto [b, n] : holes) {
        CanvasHole h;
        h.begin = b;
        h.length = h.min_tokens = n;
        h.part = part;
        part += 2;
        s.holes.push_back(h);
      }
      return s;
    };
    // Text inside the hole's block: seen.
    const GenerateResult ok1 = generate(*m, spec_of({M, M, 40, M, M, M, M}, {{0, 2}, {3, 4}}), p);
    EXPECT_EQ(ok1.output_ids[2], 40) << fam;
    // The hole ends on the block boundary; its text starts the next block: left to right.
    const GenerateResult ok2 = generate(*m, spec_of({M, M, M, 40, 41, M, M}, {{0, 3}, {5, 2}}), p);
    EXPECT_EQ(ok2.output_ids[3], 40) << fam;
    EXPECT_EQ(ok2.output_ids[4], 41) << fam;
    // Text across the boundary: half of it unseen.
    try {
      generate(*m, spec_of({M, M, 40, 41, M, M}, {{0, 2}, {4, 2}}), p);
      ADD_FAILURE() << fam << ": expected kInvalidArgument";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_EQ(e.param(), "template[1]");
      EXPECT_NE(std::string(e.what()).find("block_length 4"), std::string::npos) << e.what();
    }
  }
}

TEST(TemplateGenerate, BidirectionalFamiliesTakeHolesAnywhere) {
  for (const char* fam : {"llada", "dream"}) {
    auto m = model_for(fam);
    const int32_t M = m->config().mask_id;
    DecodeParams p = small_params(*m, 4);
    CanvasSpec s;
    s.prompt = {33, 123};
    // Blocks of 4 over the region: [0,4) holds hole 0, [4,8) only fixed text, [8,10) hole 1.
    s.region = {M, 40, 41, 42, 43, 44, 45, 46, 47, M};
    for (auto [b, n] : std::vector<std::pair<int, int>>{{0, 1}, {9, 1}}) {
      CanvasHole h;
      h.begin = b;
      h.length = h.min_tokens = n;
      s.holes.push_back(h);
    }
    const GenerateResult g = generate(*m, s, p);
    EXPECT_EQ(g.output_ids.size(), s.region.size());
    for (int q = 1; q < 9; ++q) EXPECT_EQ(g.output_ids[q], s.region[q]);
    for (int q : {0, 9}) EXPECT_NE(g.output_ids[q], M);
    // One forward per block with a hole position; the all-fixed block costs none.
    EXPECT_EQ(g.forward_calls, 2) << fam;
  }
}

TEST(TemplateGenerate, FewerForwardsKeysKeepTheTemplate) {
  for (const char* fam : kFamilies) {
    auto m = model_for(fam);
    auto tok = tokenizer_for(fam);
    const ModelConfig& c = m->config();
    DecodeParams p = small_params(*m, 32);
    apply_preset(p, Preset::kFast);  // eos_fill, early_commit, threshold_relax
    p.commit = CommitRule::kThreshold;
    p.stop_at_eos = true;
    CanvasTemplate t;
    t.parts = {CanvasPart::fixed("a b c"), CanvasPart::hole_range(0, 4), CanvasPart::fixed(" d e"),
               CanvasPart::hole(6)};
    const CanvasSpec spec = tokenize_template(t, *tok, c);
    const GenerateResult g = generate(*m, spec, p);
    const int fixed_end = spec.holes[1].begin;
    ASSERT_GE(static_cast<int>(g.output_ids.size()), fixed_end) << fam;
    for (int q = spec.holes[0].begin + spec.holes[0].length; q < fixed_end; ++q) {
      EXPECT_EQ(g.output_ids[q], spec.region[q]) << fam;
    }
    for (int q = 0; q < static_cast<int>(g.output_ids.size()); ++q) {
      EXPECT_NE(g.output_ids[q], c.mask_id) << fam << " position " << q;
    }
    const auto holes = hole_contents(spec, g.output_ids, c);
    EXPECT_LE(holes[0].size(), 4u);
    EXPECT_LE(holes[1].size(), 6u);
  }
}

TEST(TemplateGenerate, BadTemplatesNameThePart) {
  auto m = model_for("llada");
  auto tok = tokenizer_for("llada");
  CanvasTemplate t;
  t.parts = {CanvasPart::fixed("abc"), CanvasPart::hole(0)};
  try {
    tokenize_template(t, *tok, m->config());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.param(), "template[1].hole");
  }
  t.parts = {CanvasPart::fixed("abc")};
  try {
    tokenize_template(t, *tok, m->config());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.param(), "template");
  }
}

TEST(TemplateText, MarkersAndJsonGiveTheSameParts) {
  const CanvasTemplate m = template_from_markers("a [[b] [___] c[_:7] d [__:1-5]");
  ASSERT_EQ(m.parts.size(), 6u);
  EXPECT_EQ(m.parts[0].text, "a [b] ");
  EXPECT_TRUE(m.parts[1].is_hole);
  EXPECT_EQ(m.parts[1].min_tokens, 3);
  EXPECT_EQ(m.parts[1].max_tokens, 3);
  EXPECT_EQ(m.parts[2].text, " c");
  EXPECT_EQ(m.parts[3].max_tokens, 7);
  EXPECT_EQ(m.parts[4].text, " d ");
  EXPECT_EQ(m.parts[5].min_tokens, 1);
  EXPECT_EQ(m.parts[5].max_tokens, 5);
  const CanvasTemplate j = template_from_json(nlohmann::json::parse(
      R"([{"text": "a [b] "}, {"hole": 3}, {"text": " c"}, {"hole": 7, "name": "x"},
          {"text": " d "}, {"hole": {"min": 1, "max": 5}}])"));
  ASSERT_EQ(j.parts.size(), m.parts.size());
  for (size_t i = 0; i < j.parts.size(); ++i) {
    EXPECT_EQ(j.parts[i].is_hole, m.parts[i].is_hole) << i;
    EXPECT_EQ(j.parts[i].text, m.parts[i].text) << i;
    EXPECT_EQ(j.parts[i].min_tokens, m.parts[i].min_tokens) << i;
    EXPECT_EQ(j.parts[i].max_tokens, m.parts[i].max_tokens) << i;
  }
  EXPECT_EQ(j.parts[3].name, "x");
  for (const char* bad : {"no hole", "a [__:0] b", "a [__:5-2] b", "a [__ b", "a [_x_] b"}) {
    try {
      template_from_markers(bad);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.param(), "template") << bad;
    }
  }
  const std::pair<const char*, const char*> bad_json[] = {
      {R"([{"text": "a"}, {"hole": 0}])", "template[1].hole"},
      {R"([{"text": "a"}, {"hole": {"max": 2, "min": 3}}])", "template[1].hole.min"},
      {R"([{"text": "a"}, {"hole": {"min": 1}}])", "template[1].hole.max"},
      {R"([{"text": "a", "hole": 2}])", "template[0]"},
      {R"([{"text": 5}, {"hole": 2}])", "template[0].text"},
      {R"([{"text": "a"}, {"hole": 2, "size": 1}])", "template[1].size"},
      {R"([{"text": "a"}])", "template"},
      {R"("a [___]")", "template"}};
  for (const auto& [text, param] : bad_json) {
    try {
      template_from_json(nlohmann::json::parse(text));
      ADD_FAILURE() << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.param(), param) << text;
    }
  }
}

TEST(TemplateGenerate, StreamedTextEqualsTheResultText) {
  for (const char* fam : kFamilies) {
    auto m = model_for(fam);
    auto tok = tokenizer_for(fam);
    DecodeParams p = small_params(*m, 32);
    CanvasTemplate t;
    t.parts = {CanvasPart::fixed("one two"), CanvasPart::hole(3), CanvasPart::fixed(" three"),
               CanvasPart::hole_range(0, 4), CanvasPart::fixed(" four")};
    TextStreamer streamer(*tok, m->config());
    std::string streamed;
    GenerateOptions o;
    o.on_step = [&](const StepEvent& e) { streamed += streamer.update(e.text_canvas); };
    const TemplateResult r = generate_template(*m, *tok, t, p, o);
    streamed += streamer.finish(r.gen.text_ids.empty() ? r.gen.output_ids : r.gen.text_ids);
    EXPECT_EQ(streamed, r.text) << fam;
  }
}

}  // namespace
}  // namespace dlx::test
