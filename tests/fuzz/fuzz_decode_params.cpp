// libFuzzer target: decoding parameters (engine/decode/decode_params): the JSON object of the
// HTTP `diffusion` field (apply_json) or CLI-style "key value" lines (set_param), over a
// fixture model's defaults, then validate(). Parameters validate() accepts must decode: when
// the canvas is small they run through generate() on the tiny fixture model.
// Input: byte 0 picks the family (bits 0-1), the text form (bit 2) and the prompt length
// (bits 3-7, 1..32 tokens); the rest is the parameters.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/decode/decode_params.h"
#include "engine/decode/generate.h"
#include "engine/model/model.h"
#include "engine/util/json_parse.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

constexpr const char* kFamilies[] = {"llada", "dream", "sdar", "fast_dllm_v2"};
constexpr int kMaxCanvas = 64;  // generate() only below this (prompt + canvas positions)
constexpr int kMaxSteps = 256;

const std::shared_ptr<dlx::Model>& model(int family) {
  static std::shared_ptr<dlx::Model> models[4];
  if (!models[family]) {
    models[family] = dlx::Model::load(std::string(DLX_FIXTURES) + "/models/" + kFamilies[family],
                                      dlx::make_cpu_backend(1));
  }
  return models[family];
}

// "key value" per line; a line without a space sets the key to "".
void apply_text(dlx::DecodeParams& p, std::string_view text) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    const size_t sp = line.find(' ');
    const std::string key(line.substr(0, sp));
    const std::string value(sp == std::string_view::npos ? "" : line.substr(sp + 1));
    dlx::set_param(p, key, value);
  }
}

int64_t canvas_positions(const dlx::DecodeParams& p, const dlx::ModelConfig& c, int prompt) {
  const int64_t B = dlx::effective_block_length(p);
  const int64_t end = prompt + int64_t{p.gen_length};
  return c.spec->block_aligned ? (end + B - 1) / B * B : end;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int family = data[0] & 3;
  const bool text_form = data[0] & 4;
  const int prompt_len = 1 + (data[0] >> 3);
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const dlx::Model& m = *model(family);
  const dlx::ModelConfig& c = m.config();
  dlx::DecodeParams p = dlx::default_decode_params(c);
  try {
    if (text_form) {
      apply_text(p, rest);
    } else {
      dlx::apply_json(p,
                      dlx::parse_json_limited(rest, "diffusion", dlx::ErrorCode::kInvalidArgument));
    }
    (void)dlx::to_json(p);
    dlx::validate(p, c, prompt_len);
    (void)dlx::generation_bytes(c, prompt_len, p);
  } catch (const dlx::Error& e) {
    dlx::fuzz::expected(e);
    return 0;
  }
  const int64_t steps = p.steps.value_or(0) + p.block_steps.value_or(0);
  const int64_t canvas = canvas_positions(p, c, prompt_len);
  if (canvas > kMaxCanvas || steps > kMaxSteps) return 0;
  std::vector<int32_t> prompt(static_cast<size_t>(prompt_len));
  for (int i = 0; i < prompt_len; ++i) prompt[i] = (7 * i + 3) % 100;
  try {
    const dlx::GenerateResult r = dlx::generate(m, prompt, p);
    // Block-aligned families fill up to the block boundary after prompt + gen_length.
    if (static_cast<int64_t>(r.output_ids.size()) > canvas - prompt_len) __builtin_trap();
    for (int32_t id : r.output_ids) {
      if (id < 0 || id >= c.vocab) __builtin_trap();
    }
  } catch (const dlx::Error& e) {
    dlx::fuzz::expected(e);
  }
  return 0;
}
