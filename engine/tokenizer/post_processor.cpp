// Post-processing templates for single sequences.
#include "engine/tokenizer/post_processor.h"

#include <algorithm>

#include "engine/tokenizer/bpe_model.h"
#include "engine/util/error.h"
#include "engine/util/json_brief.h"
#include "engine/util/json_int.h"

namespace dlx {
namespace {

[[noreturn]] void bad(const std::string& what) {
  throw Error(ErrorCode::kInvalidModel, "tokenizer.json: post_processor: " + what);
}

int32_t special_id(const nlohmann::json& v) {
  const auto id = json_int(v, 0, kMaxTokenIds - 1);
  if (!id) {
    bad("special token id " + json_brief(v) + " is not an integer in 0.." +
        std::to_string(kMaxTokenIds - 1));
  }
  return static_cast<int32_t>(*id);
}

}  // namespace

PostProcessor PostProcessor::from_json(const nlohmann::json& j) {
  PostProcessor p;
  if (!j.is_null()) p.add(j);
  return p;
}

void PostProcessor::add(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) bad("no \"type\"");
  const std::string type = j["type"];
  if (type == "ByteLevel") return;  // only trims offsets, which we do not produce
  if (type == "Sequence") {
    for (const auto& p : j.value("processors", nlohmann::json::array())) add(p);
    return;
  }
  std::vector<Piece> tpl;
  if (type == "TemplateProcessing") {
    const auto& specials = j.value("special_tokens", nlohmann::json::object());
    for (const auto& item : j.at("single")) {
      Piece p;
      if (item.contains("Sequence")) {
        p.sequence = true;
      } else if (item.contains("SpecialToken")) {
        const std::string name = item["SpecialToken"].at("id");
        if (!specials.contains(name))
          bad("special token '" + name + "' has no entry in special_tokens");
        for (const auto& id : specials[name].at("ids")) p.ids.push_back(special_id(id));
      } else {
        bad("template item " + item.dump() + " is neither Sequence nor SpecialToken");
      }
      tpl.push_back(std::move(p));
    }
  } else if (type == "BertProcessing" || type == "RobertaProcessing") {
    // {"cls": ["<s>", 0], "sep": ["</s>", 2]}: single = cls A sep.
    tpl.push_back(Piece{false, {special_id(j.at("cls").at(1))}});
    tpl.push_back(Piece{true, {}});
    tpl.push_back(Piece{false, {special_id(j.at("sep").at(1))}});
  } else {
    throw Error(ErrorCode::kUnsupported,
                "tokenizer.json: post_processor type '" + type +
                    "' is not supported (supported: ByteLevel, TemplateProcessing, "
                    "BertProcessing, RobertaProcessing, Sequence)");
  }
  templates_.push_back(std::move(tpl));
}

int32_t PostProcessor::max_id() const {
  int32_t m = -1;
  for (const auto& tpl : templates_) {
    for (const Piece& p : tpl) {
      for (int32_t id : p.ids) m = std::max(m, id);
    }
  }
  return m;
}

void PostProcessor::apply(std::vector<int32_t>& ids) const {
  for (const auto& tpl : templates_) {
    std::vector<int32_t> out;
    out.reserve(ids.size() + 4);
    for (const Piece& p : tpl) {
      if (p.sequence) {
        out.insert(out.end(), ids.begin(), ids.end());
      } else {
        out.insert(out.end(), p.ids.begin(), p.ids.end());
      }
    }
    ids.swap(out);
  }
}

}  // namespace dlx
