// The structured-output constraints and skeleton templates, without a model: a simulated
// denoising loop commits hole positions in random orders (one at a time, or several per step
// re-checked with allowed() as generate() does), always picking among the tokens restrict()
// left. Every hole must stay completable and every result must parse and validate.
#include "engine/decode/json_constraints.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>

#include "engine/decode/json_schema.h"
#include "engine/decode/json_schema_template.h"
#include "engine/decode/json_token_classes.h"
#include "engine/util/error.h"
#include "tests/support/test_util.h"

namespace dlx {
namespace {

using ojson = nlohmann::ordered_json;

struct Vocab {
  std::shared_ptr<const Tokenizer> tok;
  int vocab = 0;
  int32_t mask_id = 0;
  std::vector<int32_t> ends;
  std::shared_ptr<const JsonTokenClasses> classes;
};

const Vocab& qwen() {
  static const Vocab v = [] {
    Vocab q;
    q.tok = Tokenizer::load(test::fixtures() + "/tokenizers/qwen3");
    q.vocab = 151936;  // Qwen3's logits width (beyond the tokenizer's ids)
    q.mask_id = 151935;
    q.ends = {q.tok->token_to_id("<|im_end|>"), q.tok->token_to_id("<|endoftext|>")};
    q.classes = json_token_classes(q.tok, q.vocab, q.ends);
    return q;
  }();
  return v;
}

const Vocab& demo() {
  static const Vocab v = [] {
    Vocab d;
    d.tok = Tokenizer::load(std::string(DLX_SOURCE_DIR) + "/models/dlx-demo-llada");
    d.vocab = 1262;
    d.mask_id = 1256;
    d.ends = {1257};
    d.classes = json_token_classes(d.tok, d.vocab, d.ends);
    return d;
  }();
  return v;
}

ojson fixture_schemas() {
  std::ifstream f(test::fixtures() + "/structured/schemas.json");
  return ojson::parse(f);
}

// Tokens restrict() leaves finite at offset i.
std::vector<int32_t> allowed_tokens(const TokenConstraint& c, int i,
                                    const std::vector<int32_t>& hole, const Vocab& v,
                                    std::vector<float>& row, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-5, 5);
  for (float& x : row) x = u(rng);
  c.restrict(i, hole, v.mask_id, row);
  std::vector<int32_t> out;
  for (int t = 0; t < v.vocab; ++t) {
    if (std::isfinite(row[t])) out.push_back(t);
  }
  return out;
}

// Fills one hole in a random order; returns its text (value tokens before the first end).
// With `pad` the hole gets up to 3 extra positions (what block alignment does on block-causal
// families): they must end up as end tokens.
std::string fill_hole(const CanvasPart& p, const Vocab& v, std::mt19937& rng,
                      std::vector<float>& row, bool pad) {
  const int n = p.max_tokens + (pad ? static_cast<int>(rng() % 4) : 0);
  std::vector<int32_t> hole(n, v.mask_id);
  auto masked = [&] {
    std::vector<int> m;
    for (int j = 0; j < n; ++j) {
      if (hole[j] == v.mask_id) m.push_back(j);
    }
    return m;
  };
  for (std::vector<int> m = masked(); !m.empty(); m = masked()) {
    std::shuffle(m.begin(), m.end(), rng);
    // Several positions picked against the same state (one forward), committed in order with
    // allowed() re-checked against the commits before them.
    const size_t per_step = std::min<size_t>(m.size(), 1 + rng() % 3);
    std::vector<std::pair<int, int32_t>> picks;
    for (size_t k = 0; k < per_step; ++k) {
      const std::vector<int32_t> ok = allowed_tokens(*p.constraint, m[k], hole, v, row, rng);
      EXPECT_FALSE(ok.empty()) << p.name << " offset " << m[k] << " has no allowed token";
      if (ok.empty()) return "";
      // Bias towards end tokens now and then so that variable holes also end early.
      int32_t t = ok[rng() % ok.size()];
      for (int32_t e : v.ends) {
        if (rng() % 3 == 0 && std::find(ok.begin(), ok.end(), e) != ok.end()) t = e;
      }
      EXPECT_TRUE(p.constraint->allowed(m[k], hole, v.mask_id, t));
      picks.push_back({m[k], t});
    }
    for (size_t k = 0; k < picks.size(); ++k) {
      auto [i, t] = picks[k];
      if (k > 0 && !p.constraint->allowed(i, hole, v.mask_id, t)) continue;
      hole[i] = t;
      // The loop fills the positions after an end with end tokens (sometimes simulated).
      if (v.classes->is_end(t) && rng() % 2) {
        for (int j = i + 1; j < n; ++j) {
          if (hole[j] == v.mask_id) hole[j] = v.ends[0];
        }
      }
    }
  }
  std::vector<int32_t> value;
  for (int32_t t : hole) {
    if (v.classes->is_end(t)) break;
    value.push_back(t);
  }
  for (size_t j = value.size(); j < hole.size(); ++j) {
    EXPECT_TRUE(v.classes->is_end(hole[j])) << p.name << ": a value token after an end";
  }
  EXPECT_GE(static_cast<int>(value.size()), p.min_tokens) << p.name;
  return v.tok->decode(value);
}

std::string simulate(const CanvasTemplate& t, const Vocab& v, std::mt19937& rng, bool pad) {
  std::vector<float> row(v.vocab);
  std::string text;
  for (const CanvasPart& p : t.parts) {
    text += p.is_hole ? fill_hole(p, v, rng, row, pad) : p.text;
  }
  return text;
}

void check_every_fixture_schema(const Vocab& v, int seeds) {
  for (const auto& c : fixture_schemas()) {
    const SchemaNode schema = parse_json_schema(c["schema"], "schema");
    const CanvasTemplate t = compile_schema_template(schema, *v.tok, v.classes);
    for (int seed = 0; seed < seeds; ++seed) {
      std::mt19937 rng(seed);
      const std::string text = simulate(t, v, rng, seed % 2 == 1);
      EXPECT_NO_THROW(check_structured_output(text, schema))
          << c["name"] << " seed " << seed << ": " << text;
    }
  }
}

TEST(JsonConstraints, EveryFixtureSchemaCompletesAndValidatesOnQwenVocab) {
  check_every_fixture_schema(qwen(), 3);
}

TEST(JsonConstraints, EveryFixtureSchemaCompletesAndValidatesOnDemoVocab) {
  check_every_fixture_schema(demo(), 20);
}

TEST(JsonConstraints, SkeletonIsFixedTextWithHolesForValues) {
  const SchemaNode s = parse_json_schema(
      ojson::parse(
          R"({"type":"object","properties":{"name":{"type":"string","maxLength":5},"n":{"type":"integer","minimum":0,"maximum":99},"ok":{"type":"boolean"},"k":{"const":"x"}}})"),
      "s");
  const CanvasTemplate t = compile_schema_template(s, *demo().tok, demo().classes);
  ASSERT_EQ(t.parts.size(), 7u);
  EXPECT_EQ(t.parts[0].text, "{\"name\": \"");
  EXPECT_TRUE(t.parts[1].is_hole);
  EXPECT_EQ(t.parts[1].name, "/name");
  EXPECT_EQ(t.parts[1].min_tokens, 0);
  EXPECT_EQ(t.parts[1].max_tokens, 5);
  EXPECT_EQ(t.parts[2].text, "\", \"n\": ");
  EXPECT_EQ(t.parts[3].max_tokens, 2);  // "99": two characters
  EXPECT_EQ(t.parts[4].text, ", \"ok\": ");
  EXPECT_TRUE(t.parts[5].is_hole);
  EXPECT_EQ(t.parts[6].text, ", \"k\": \"x\"}");
}

// Ids of single characters in the demo vocabulary.
int32_t id(char c) {
  return demo().classes->ascii_ids[static_cast<unsigned char>(c)].at(0);
}

TEST(JsonConstraints, IntegerRulesUseCommittedNeighbours) {
  NumberSpec s;
  s.lo = -999;
  s.hi = 9999;
  s.max_chars = 4;
  const auto c = make_number_constraint(demo().classes, s);
  const int32_t m = demo().mask_id, end = 1257;
  // "0" first: only an end may follow.
  std::vector<int32_t> h = {id('0'), m, m, m};
  EXPECT_TRUE(c->allowed(1, h, m, end));
  EXPECT_FALSE(c->allowed(1, h, m, id('5')));
  // A digit committed at offset 2: offset 0 cannot be "0" (leading zero) but may be '-'.
  h = {m, m, id('7'), m};
  EXPECT_FALSE(c->allowed(0, h, m, id('0')));
  EXPECT_TRUE(c->allowed(0, h, m, id('-')));
  EXPECT_FALSE(c->allowed(1, h, m, end));  // an end before a digit
  // "-" then a digit at offset 3: only 3 digits fit -999.
  h = {id('-'), m, m, id('1')};
  EXPECT_TRUE(c->allowed(1, h, m, id('9')));
  EXPECT_FALSE(c->allowed(1, h, m, id('0')));
  // Bounds: [-999, 9999] keeps "-0" out.
  h = {id('-'), m, m, m};
  EXPECT_FALSE(c->allowed(1, h, m, id('0')));
  std::vector<float> row(demo().vocab, 0.0f);
  c->restrict(1, h, m, row);
  EXPECT_TRUE(std::isinf(row[id('0')]));
  EXPECT_FALSE(std::isinf(row[id('1')]));
  EXPECT_TRUE(std::isinf(row[end]));  // "-" alone is not a number
  EXPECT_TRUE(std::isinf(row[id('a')]));
}

TEST(JsonConstraints, IntegerRangeIsExact) {
  // Every completion of an empty 3-position hole for [7, 120] is exactly the range.
  NumberSpec s;
  s.lo = 7;
  s.hi = 120;
  s.max_chars = 3;
  const auto c = make_number_constraint(demo().classes, s);
  const int32_t m = demo().mask_id, end = 1257;
  std::vector<int> found;
  for (int a = 0; a < 10; ++a) {
    for (int b = -1; b < 10; ++b) {
      for (int d = -1; d < 10; ++d) {
        if (b < 0 && d >= 0) continue;
        std::vector<int32_t> h = {m, m, m};
        std::vector<int32_t> seq = {id('0' + a), b < 0 ? end : id('0' + b),
                                    b < 0 || d < 0 ? end : id('0' + d)};
        bool ok = true;
        for (int i = 0; i < 3 && ok; ++i) {
          ok = c->allowed(i, h, m, seq[i]);
          h[i] = seq[i];
        }
        if (ok) found.push_back(b < 0 ? a : d < 0 ? a * 10 + b : a * 100 + b * 10 + d);
      }
    }
  }
  std::sort(found.begin(), found.end());
  std::vector<int> want;
  for (int v = 7; v <= 120; ++v) want.push_back(v);
  EXPECT_EQ(found, want);
}

TEST(JsonConstraints, NumberGrammar) {
  NumberSpec s;
  s.integer = false;
  s.max_chars = 5;
  const auto c = make_number_constraint(demo().classes, s);
  const int32_t m = demo().mask_id, end = 1257;
  std::vector<int32_t> h = {id('0'), m, m, m, m};
  EXPECT_TRUE(c->allowed(1, h, m, id('.')));
  EXPECT_FALSE(c->allowed(1, h, m, id('3')));
  h = {m, id('.'), m, m, m};
  EXPECT_FALSE(c->allowed(2, h, m, end));  // "d." needs a fraction digit
  EXPECT_FALSE(c->allowed(0, h, m, id('-')));
  h = {m, m, m, m, id('.')};
  EXPECT_FALSE(c->allowed(0, h, m, id('0')));  // "." at the last position has no digit after
}

TEST(JsonConstraints, StringRespectsMaxLengthInCodePoints) {
  const Vocab& q = qwen();
  const auto c = make_string_constraint(q.classes, 1, 4, 4);
  const int32_t m = q.mask_id;
  const int32_t hello = q.tok->encode("hello").at(0);  // one token of more than 4 code points
  const int32_t ab = q.tok->encode("ab").at(0);
  const int32_t quote = q.tok->encode("\"").at(0);
  ASSERT_EQ(q.tok->encode("ab").size(), 1u);
  std::vector<int32_t> h = {m, m, m, m};
  EXPECT_FALSE(c->allowed(0, h, m, hello));
  EXPECT_TRUE(c->allowed(0, h, m, ab));
  EXPECT_FALSE(c->allowed(0, h, m, quote));
  EXPECT_FALSE(c->allowed(0, h, m, q.ends[0]));  // minLength 1: offset 0 holds a character
  h = {ab, m, m, m};
  EXPECT_FALSE(c->allowed(3, h, m, ab));  // offsets 1, 2 would need a character each: 2+2+2 > 4
  EXPECT_TRUE(c->allowed(1, h, m, ab));
  EXPECT_TRUE(c->allowed(1, h, m, q.ends[0]));
  h = {m, q.ends[0], m, m};
  EXPECT_FALSE(c->allowed(2, h, m, ab));  // after an end only ends
  EXPECT_TRUE(c->allowed(2, h, m, q.ends[1]));
}

TEST(JsonConstraints, ChoiceKeepsOnlyAgreeingValues) {
  const Vocab& q = qwen();
  const std::vector<int32_t> a = q.tok->encode("\"red\""), b = q.tok->encode("\"green\"");
  const auto c = make_choice_constraint(q.classes, {a, b});
  const int n = static_cast<int>(std::max(a.size(), b.size()));
  std::vector<int32_t> h(n, q.mask_id);
  h[1] = b[1];
  EXPECT_FALSE(c->allowed(0, h, q.mask_id, a[0]) && a[1] != b[1] && a[0] != b[0]);
  EXPECT_TRUE(c->allowed(0, h, q.mask_id, b[0]));
}

TEST(JsonConstraints, TokenClassesOfQwen) {
  const JsonTokenClasses& c = *qwen().classes;
  EXPECT_EQ(c.string_chars[qwen().tok->encode("hello").at(0)], 5);
  EXPECT_EQ(c.string_chars[qwen().tok->encode("\"").at(0)], 0);
  EXPECT_EQ(c.string_chars[qwen().ends[0]], 0);
  EXPECT_EQ(c.string_chars[151900], 0);  // beyond the tokenizer's ids
  EXPECT_TRUE(c.has_single_char_string_token);
  EXPECT_FALSE(c.ascii_ids['7'].empty());
}

}  // namespace
}  // namespace dlx
