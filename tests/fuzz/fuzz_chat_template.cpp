// libFuzzer target: a chat template (engine/tokenizer/jinja_*): parse, then render with the
// variables render_chat passes (messages, add_generation_prompt, tools, documents, special
// tokens) within a render budget. Input: the template source, optionally "\0" the messages as
// JSON (else a small fixed conversation) and "\0" extra variables as a JSON object.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/tokenizer/jinja_template.h"
#include "engine/tokenizer/jinja_value.h"
#include "engine/tokenizer/render_limits.h"
#include "engine/util/json_parse.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using dlx::jinja::Value;

const char* const kConversation = R"([
  {"role": "system", "content": "Be brief."},
  {"role": "user", "content": "Hi <b>&</b> \u00e9\n"},
  {"role": "assistant", "content": "", "tool_calls": [
    {"type": "function", "function": {"name": "add", "arguments": {"a": 1, "b": [2.5, null]}}}]},
  {"role": "tool", "content": "3.5"},
  {"role": "assistant", "content": "<think>sum</think>3.5"},
  {"role": "user", "content": "thanks"}])";

// The render budget: the service's limits, with fewer steps so one input stays fast.
dlx::jinja::RenderLimits limits() {
  dlx::jinja::RenderLimits l;
  l.max_steps = 100'000;
  l.max_output_bytes = 1u << 20;
  return l;
}

nlohmann::ordered_json json_part(std::string_view text) {
  return dlx::parse_ordered_json_limited(text, "fuzz input", dlx::ErrorCode::kInvalidArgument);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = dlx::fuzz::split_parts(data, size, 3);
  try {
    const dlx::jinja::Template tpl(parts[0]);
    static const nlohmann::ordered_json conversation = nlohmann::ordered_json::parse(kConversation);
    std::vector<std::pair<std::string, Value>> vars;
    vars.emplace_back("messages",
                      Value::from_json(parts.size() > 1 ? json_part(parts[1]) : conversation));
    vars.emplace_back("add_generation_prompt", Value::boolean(size % 2 == 0));
    vars.emplace_back("tools", Value::none());
    vars.emplace_back("documents", Value::none());
    vars.emplace_back("bos_token", Value::string("<|startoftext|>"));
    vars.emplace_back("eos_token", Value::string("<|endoftext|>"));
    if (parts.size() > 2) {
      const nlohmann::ordered_json extra = json_part(parts[2]);
      if (extra.is_object()) {
        for (const auto& [k, v] : extra.items()) vars.emplace_back(k, Value::from_json(v));
      }
    }
    const std::string out = tpl.render(vars, limits());
    if (out.size() > limits().max_output_bytes) __builtin_trap();
  } catch (const dlx::Error& e) {
    dlx::fuzz::expected(e);
  }
  return 0;
}
