// Structured output through the real loop: every fixture schema (tests/fixtures/structured)
// gives JSON that parses and validates on every fixture family (bidirectional LLaDA / Dream,
// block-causal SDAR / Fast-dLLM v2 with padded holes) and on the bundled demo model, greedy
// and sampled with several seeds. generate_structured() itself checks each result; the test
// re-checks the skeleton and that no fixed token changed.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "engine/decode/json_schema_canvas.h"
#include "engine/decode/json_schema_template.h"
#include "engine/decode/json_token_classes.h"
#include "engine/model/model.h"
#include "engine/util/error.h"
#include "tests/support/test_util.h"

namespace dlx::test {
namespace {

using ojson = nlohmann::ordered_json;

struct Loaded {
  std::shared_ptr<Model> model;
  std::shared_ptr<const Tokenizer> tok;
};

const Loaded& load(const std::string& dir) {
  static std::map<std::string, Loaded> cache;
  Loaded& l = cache[dir];
  if (!l.model) {
    l.model = Model::load(dir, make_cpu_backend(1));
    l.tok = Tokenizer::load(dir);
  }
  return l;
}

ojson fixture_schemas() {
  std::ifstream f(fixtures() + "/structured/schemas.json");
  return ojson::parse(f);
}

// Several steps per block; block 8 makes block-causal families pad holes to block boundaries.
DecodeParams params_for(const Model& m, double temperature, uint64_t seed) {
  DecodeParams p = default_decode_params(m.config());
  p.block_length = 8;
  p.steps.reset();
  p.block_steps = 4;
  if (p.sub_block_length) p.sub_block_length = std::min(*p.sub_block_length, 8);
  p.temperature = temperature;
  p.seed = seed;
  return p;
}

// Runs every schema with holes; returns how many generations validated.
int run_all(const Loaded& l, const std::vector<int32_t>& prompt,
            const std::function<DecodeParams(double, uint64_t)>& params) {
  int ok = 0;
  const auto classes =
      json_token_classes(l.tok, l.model->config().vocab, l.model->config().eos_ids);
  for (const auto& c : fixture_schemas()) {
    const SchemaNode schema = parse_json_schema(c["schema"], "schema");
    const CanvasTemplate skel = compile_schema_template(schema, *l.tok, classes);
    const bool has_hole =
        std::any_of(skel.parts.begin(), skel.parts.end(), [](const auto& p) { return p.is_hole; });
    if (!has_hole) {
      EXPECT_THROW(generate_structured(*l.model, l.tok, prompt, schema, params(0, 0)), Error);
      continue;
    }
    const std::vector<std::pair<double, uint64_t>> runs = {{0.0, 0}, {0.8, 1}, {1.0, 2}, {1.5, 3}};
    for (auto [t, seed] : runs) {
      const DecodeParams p = params(t, seed);
      try {
        const StructuredResult r = generate_structured(*l.model, l.tok, prompt, schema, p);
        std::string why;
        EXPECT_TRUE(schema_accepts(schema, r.value, why)) << why;
        // Fixed text is the skeleton, untouched: each fixed part appears in order.
        size_t at = 0;
        for (const auto& part : skel.parts) {
          if (part.is_hole) continue;
          const size_t f = r.result.text.find(part.text, at);
          EXPECT_NE(f, std::string::npos) << c["name"] << ": " << r.result.text;
          if (f == std::string::npos) break;
          at = f + part.text.size();
        }
        ++ok;
      } catch (const Error& e) {
        ADD_FAILURE() << c["name"] << " temperature " << t << " seed " << seed << ": " << e.what();
      }
    }
  }
  return ok;
}

TEST(JsonSchemaGenerate, EveryFixtureSchemaOnEveryFamily) {
  for (const char* fam : {"llada", "dream", "sdar", "fast_dllm_v2"}) {
    SCOPED_TRACE(fam);
    const Loaded& l = load(model_dir(fam));
    const std::vector<int32_t> prompt = l.tok->encode("Describe it as JSON:", true);
    const int ok =
        run_all(l, prompt, [&](double t, uint64_t seed) { return params_for(*l.model, t, seed); });
    EXPECT_GE(ok, 80);
  }
}

TEST(JsonSchemaGenerate, EveryFixtureSchemaOnTheDemoModel) {
  const Loaded& l = load(std::string(DLX_SOURCE_DIR) + "/models/dlx-demo-llada");
  // The chat-rendered prompt is the canvas's prefix; the skeleton is the assistant's reply.
  const std::string chat = render_chat(
      *l.tok, nlohmann::json::array({{{"role", "user"}, {"content", "sort: 5391"}}}), true);
  const std::vector<int32_t> prompt = l.tok->encode(chat, false);
  // The model's own defaults (threshold decoding, preset fast), greedy and sampled.
  const int ok = run_all(l, prompt, [&](double t, uint64_t seed) {
    DecodeParams p = resolve_decode_params(l.model->config(), TextOverrides{});
    p.temperature = t;
    p.seed = seed;
    return p;
  });
  EXPECT_GE(ok, 80);
}

TEST(JsonSchemaGenerate, BlockCausalHolesArePaddedToTheBlockBoundary) {
  const Loaded& l = load(model_dir("sdar"));
  const SchemaNode schema = parse_json_schema(
      ojson::parse(
          R"({"type":"object","properties":{"a":{"type":"integer","minimum":0,"maximum":9},"a_long_property_name_that_spans_more_than_one_block":{"type":"boolean"}}})"),
      "schema");
  const auto classes =
      json_token_classes(l.tok, l.model->config().vocab, l.model->config().eos_ids);
  const CanvasTemplate skel = compile_schema_template(schema, *l.tok, classes);
  const DecodeParams p = params_for(*l.model, 0, 0);
  DecodeParams one_block = p;
  one_block.block_length = 0;
  int padded_layouts = 0;
  // Every prompt length moves the holes against the block grid.
  for (int words = 1; words <= 8; ++words) {
    std::string text = "x";
    for (int w = 1; w < words; ++w) text += " x";
    const std::vector<int32_t> prompt = l.tok->encode(text, true);
    const CanvasSpec spec = schema_canvas(prompt, skel, *l.tok, l.model->config(), p, "schema");
    EXPECT_NO_THROW(validate_canvas(spec, l.model->config(), canvas_params(spec, p)));
    const CanvasSpec unpadded =
        schema_canvas(prompt, skel, *l.tok, l.model->config(), one_block, "schema");
    if (spec.region.size() > unpadded.region.size()) {
      ++padded_layouts;
      // Unpadded, the same layout is refused by the loop's block-causal rule.
      EXPECT_THROW(validate_canvas(unpadded, l.model->config(), canvas_params(unpadded, p)), Error);
    }
  }
  EXPECT_GT(padded_layouts, 0);
}

}  // namespace
}  // namespace dlx::test
