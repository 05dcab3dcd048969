// The demo model's synthetic tasks as the engine runs them: one user turn through the chat
// template, generate, the text up to the end token. Shared by the quality benchmark and the
// golden test so both score answers the same way.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "engine/decode/generate.h"
#include "engine/tokenizer/tokenizer.h"
#include "nlohmann/json.hpp"

namespace dlx::demo {

struct TaskOutcome {
  std::string text;  // the reply, special tokens skipped, surrounding whitespace trimmed
  GenerateResult result;
};

inline std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") + 1 - b);
}

inline TaskOutcome run_task(const Model& model, const Tokenizer& tok, const std::string& prompt,
                            const DecodeParams& params) {
  const nlohmann::json messages = nlohmann::json::array({{{"role", "user"}, {"content", prompt}}});
  const std::vector<int32_t> ids =
      tok.encode(render_chat(tok, messages, /*add_generation_prompt=*/true));
  TaskOutcome out;
  out.result = generate(model, ids, params);
  // The reply ends at the first end token (output_ids include it when the model stopped).
  std::vector<int32_t> reply = out.result.output_ids;
  const auto end = std::find_if(reply.begin(), reply.end(),
                                [&](int32_t id) { return model.config().is_end_token(id); });
  reply.erase(end, reply.end());
  out.text = trim(tok.decode(reply, /*skip_special_tokens=*/true));
  return out;
}

}  // namespace dlx::demo
