// render_chat: the variables transformers' apply_chat_template passes to a chat template, and
// the rendering with our Jinja interpreter.
#include "engine/tokenizer/jinja_template.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/util/error.h"

namespace dlx {

std::string render_chat(const Tokenizer& tok, const nlohmann::ordered_json& messages,
                        bool add_generation_prompt, const nlohmann::ordered_json& extra_context,
                        const jinja::RenderLimits& limits) {
  const TokenizerConfig& c = tok.config();
  const jinja::Template& tpl = tok.chat_template();
  if (!messages.is_array()) {
    throw Error(ErrorCode::kInvalidArgument,
                "messages: expected a JSON list of {role, content} objects", "messages");
  }
  for (const auto& m : messages) {
    if (!m.is_object()) {
      throw Error(ErrorCode::kInvalidArgument, "messages: every message must be a JSON object",
                  "messages");
    }
  }
  if (!extra_context.is_null() && !extra_context.is_object()) {
    throw Error(ErrorCode::kInvalidArgument, "chat template variables must be a JSON object");
  }
  using jinja::Value;
  std::vector<std::pair<std::string, Value>> vars;
  vars.emplace_back("messages", Value::from_json(messages));
  vars.emplace_back("add_generation_prompt", Value::boolean(add_generation_prompt));
  vars.emplace_back("tools", Value::none());
  vars.emplace_back("documents", Value::none());
  // transformers passes special_tokens_map: only the tokens that are set.
  const std::pair<const char*, const std::string*> specials[] = {{"bos_token", &c.bos_token},
                                                                 {"eos_token", &c.eos_token},
                                                                 {"unk_token", &c.unk_token},
                                                                 {"pad_token", &c.pad_token},
                                                                 {"mask_token", &c.mask_token}};
  for (const auto& [name, text] : specials) {
    if (!text->empty()) vars.emplace_back(name, Value::string(*text));
  }
  if (!c.additional_special_tokens.empty()) {
    jinja::List l;
    for (const auto& t : c.additional_special_tokens) l.push_back(Value::string(t));
    vars.emplace_back("additional_special_tokens", Value::list(std::move(l)));
  }
  if (extra_context.is_object()) {
    for (const auto& [k, v] : extra_context.items()) vars.emplace_back(k, Value::from_json(v));
  }
  return tpl.render(vars, limits);
}

std::string render_chat(const Tokenizer& tok, const nlohmann::json& messages,
                        bool add_generation_prompt, const nlohmann::json& extra_context,
                        const jinja::RenderLimits& limits) {
  return render_chat(tok, nlohmann::ordered_json(messages), add_generation_prompt,
                     nlohmann::ordered_json(extra_context), limits);
}

}  // namespace dlx
