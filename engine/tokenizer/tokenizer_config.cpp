// tokenizer_config.json parsing. Special tokens may be written as a string or as an AddedToken
// object {"content": ...}; chat_template as a string or as a list of named templates.
#include "engine/tokenizer/tokenizer_config.h"

#include "engine/util/error.h"

namespace dlx {
namespace {

std::string token_text(const nlohmann::json& c, const char* key, const std::string& where) {
  if (!c.contains(key) || c[key].is_null()) return "";
  const auto& v = c[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) {
    return v["content"].get<std::string>();
  }
  throw Error(ErrorCode::kInvalidModel,
              where + ": \"" + key + "\" is neither a string nor {\"content\": ...}");
}

}  // namespace

TokenizerConfig parse_tokenizer_config(const nlohmann::json& c, const std::string& where) {
  TokenizerConfig cfg;
  if (c.is_null()) return cfg;
  if (!c.is_object()) throw Error(ErrorCode::kInvalidModel, where + ": not a JSON object");
  cfg.bos_token = token_text(c, "bos_token", where);
  cfg.eos_token = token_text(c, "eos_token", where);
  cfg.pad_token = token_text(c, "pad_token", where);
  cfg.mask_token = token_text(c, "mask_token", where);
  cfg.unk_token = token_text(c, "unk_token", where);
  if (c.contains("additional_special_tokens") && c["additional_special_tokens"].is_array()) {
    for (const auto& t : c["additional_special_tokens"]) {
      if (t.is_string())
        cfg.additional_special_tokens.push_back(t.get<std::string>());
      else if (t.is_object() && t.contains("content"))
        cfg.additional_special_tokens.push_back(t["content"].get<std::string>());
    }
  }
  auto flag = [&](const char* key) {
    return c.contains(key) && c[key].is_boolean() && c[key].get<bool>();
  };
  cfg.add_bos_token = flag("add_bos_token");
  cfg.add_eos_token = flag("add_eos_token");
  if (c.contains("model_max_length") && c["model_max_length"].is_number_integer()) {
    cfg.model_max_length = c["model_max_length"].get<int64_t>();
  }
  if (c.contains("chat_template") && !c["chat_template"].is_null()) {
    const auto& t = c["chat_template"];
    if (t.is_string()) {
      cfg.chat_template = t.get<std::string>();
    } else if (t.is_array()) {
      // [{"name": "default", "template": ...}, {"name": "tool_use", ...}]: the default one.
      for (const auto& e : t) {
        if (e.is_object() && e.value("name", "") == "default" && e.contains("template")) {
          cfg.chat_template = e["template"].get<std::string>();
        }
      }
      if (cfg.chat_template.empty()) {
        throw Error(ErrorCode::kInvalidModel,
                    where + ": chat_template list has no \"default\" entry");
      }
    } else {
      throw Error(ErrorCode::kInvalidModel,
                  where + ": chat_template is neither a string nor a list");
    }
  }
  return cfg;
}

}  // namespace dlx
