// Tokenizer: loading tokenizer.json + tokenizer_config.json and the encode/decode pipeline
// (added tokens -> normalizer -> pre-tokenizer -> BPE -> post-processor; ByteLevel decoding).
#include "engine/tokenizer/tokenizer.h"

#include <filesystem>

#include "engine/tokenizer/added_tokens.h"
#include "engine/tokenizer/bpe_model.h"
#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/jinja_template.h"
#include "engine/tokenizer/normalizer.h"
#include "engine/tokenizer/post_processor.h"
#include "engine/tokenizer/pre_tokenizer.h"
#include "engine/tokenizer/tokenizer_config.h"
#include "engine/tokenizer/tokenizer_json.h"
#include "engine/tokenizer/utf8.h"
#include "engine/util/error.h"
#include "engine/util/json_brief.h"
#include "engine/util/json_int.h"
#include "engine/util/json_parse.h"
#include "engine/util/mapped_file.h"

namespace dlx {
namespace fs = std::filesystem;
namespace {

nlohmann::json read_json(const fs::path& p) {
  const std::string text = read_text_file(p.string(), kMaxConfigFileBytes);
  return parse_json_limited(text, p.string(), ErrorCode::kInvalidModel);
}

// Component errors say "tokenizer.json: ..."; name the actual file instead.
std::string renamed(const std::string& msg, const std::string& where) {
  return msg.rfind("tokenizer.json: ", 0) == 0 ? where + ": " + msg.substr(16) : msg;
}

void check_decoder(const nlohmann::json& d, const std::string& where) {
  const std::string type = d.is_object() ? d.value("type", "") : "null";
  if (type == "ByteLevel") return;
  if (type == "Sequence" && d.contains("decoders") && d["decoders"].size() == 1) {
    check_decoder(d["decoders"][0], where);
    return;
  }
  throw Error(ErrorCode::kUnsupported,
              where + ": decoder type '" + type + "' is not supported (supported: ByteLevel)");
}

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

std::shared_ptr<Tokenizer> Tokenizer::load(const std::string& path) {
  fs::path file = path;
  std::error_code ec;
  if (fs::is_directory(file, ec)) file /= "tokenizer.json";
  if (!fs::exists(file, ec)) {
    throw Error(ErrorCode::kNotFound, path + ": no tokenizer.json there", "tokenizer");
  }
  const fs::path dir = file.parent_path();
  nlohmann::json cfg;
  const fs::path cfg_path = dir / "tokenizer_config.json";
  if (fs::exists(cfg_path, ec)) cfg = read_json(cfg_path);
  auto tok = from_json_text(read_text_file(file.string(), kMaxTokenizerFileBytes), cfg,
                            file.string(), /*parse_template=*/false);
  std::string template_source = (dir / "tokenizer_config.json").string();
  if (tok->config_.chat_template.empty() && fs::exists(dir / "chat_template.jinja", ec)) {
    template_source = (dir / "chat_template.jinja").string();
    tok->config_.chat_template =
        read_text_file((dir / "chat_template.jinja").string(), kMaxTemplateFileBytes);
  } else if (tok->config_.chat_template.empty() && fs::exists(dir / "chat_template.json", ec)) {
    const auto ct = read_json(dir / "chat_template.json");
    if (ct.contains("chat_template") && ct["chat_template"].is_string()) {
      tok->config_.chat_template = ct["chat_template"].get<std::string>();
      template_source = (dir / "chat_template.json").string();
    }
  }
  tok->parse_chat_template(template_source);
  return tok;
}

std::shared_ptr<Tokenizer> Tokenizer::from_json_text(std::string_view tokenizer_json,
                                                     const nlohmann::json& cfg,
                                                     const std::string& where,
                                                     bool parse_template) {
  // Vocab and merges go straight into the model, without a JSON tree.
  TokenizerJson parts = parse_tokenizer_json(tokenizer_json, where);
  std::unique_ptr<BpeModel> model;
  try {
    if (!parts.rest.contains("model"))
      throw Error(ErrorCode::kInvalidModel, "tokenizer.json: no \"model\" object");
    model = BpeModel::build(parts.rest["model"], std::move(parts.vocab), parts.merges);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kInvalidModel, where + ": unexpected structure: " + e.what());
  } catch (const Error& e) {
    throw Error(e.code(), renamed(e.what(), where), e.param());
  }
  auto tok = assemble(parts.rest, std::move(model), cfg, where);
  if (parse_template) tok->parse_chat_template(where);
  return tok;
}

std::shared_ptr<Tokenizer> Tokenizer::from_json(const nlohmann::json& j, const nlohmann::json& cfg,
                                                const std::string& where) {
  if (!j.is_object() || !j.contains("model")) {
    throw Error(ErrorCode::kInvalidModel, where + ": no \"model\" object");
  }
  std::unique_ptr<BpeModel> model;
  try {
    model = BpeModel::from_json(j["model"]);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kInvalidModel, where + ": unexpected structure: " + e.what());
  } catch (const Error& e) {
    throw Error(e.code(), renamed(e.what(), where), e.param());
  }
  auto tok = assemble(j, std::move(model), cfg, where);
  tok->parse_chat_template(where);
  return tok;
}

void Tokenizer::parse_chat_template(const std::string& where) {
  chat_template_.reset();
  chat_template_error_.reset();
  if (config_.chat_template.empty()) {
    chat_template_error_ = Error(
        ErrorCode::kInvalidArgument,
        "this model has no chat template (tokenizer_config.json has no chat_template)", "messages");
    return;
  }
  if (config_.chat_template.size() > kMaxTemplateFileBytes) {
    throw Error(ErrorCode::kInvalidModel,
                where + ": the chat template is " + std::to_string(config_.chat_template.size()) +
                    " bytes, larger than the limit of " + std::to_string(kMaxTemplateFileBytes));
  }
  try {
    chat_template_ = std::make_unique<jinja::Template>(config_.chat_template);
  } catch (const Error& e) {
    // A construct we do not implement leaves plain prompts usable; broken syntax is a broken
    // model folder and fails the load here, with the line.
    if (e.code() != ErrorCode::kUnsupported) throw Error(e.code(), where + ": " + e.what());
    chat_template_error_ = Error(e.code(), where + ": " + e.what(), "messages");
  }
}

const jinja::Template& Tokenizer::chat_template() const {
  if (!chat_template_) throw *chat_template_error_;
  return *chat_template_;
}

std::shared_ptr<Tokenizer> Tokenizer::assemble(const nlohmann::json& j,
                                               std::unique_ptr<BpeModel> model,
                                               const nlohmann::json& cfg,
                                               const std::string& where) {
  std::shared_ptr<Tokenizer> t(new Tokenizer());
  t->model_ = std::move(model);
  try {
    t->normalizer_ = std::make_unique<Normalizer>(
        Normalizer::from_json(j.value("normalizer", nlohmann::json())));
    t->pre_tokenizer_ = std::make_unique<PreTokenizer>(
        PreTokenizer::from_json(j.value("pre_tokenizer", nlohmann::json())));
    t->post_processor_ = std::make_unique<PostProcessor>(
        PostProcessor::from_json(j.value("post_processor", nlohmann::json())));
    check_decoder(j.value("decoder", nlohmann::json()), where);
    t->raw_bytes_ =
        t->pre_tokenizer_->ends_with_plain_byte_level() && t->model_->supports_raw_bytes();
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kInvalidModel, where + ": unexpected structure: " + e.what());
  } catch (const Error& e) {
    throw Error(e.code(), renamed(e.what(), where), e.param());
  }

  // Added tokens: they extend the id space and are matched before any splitting.
  t->raw_added_ = std::make_unique<AddedTokenMatcher>();
  t->normalized_added_ = std::make_unique<AddedTokenMatcher>();
  std::vector<AddedToken> added;
  for (const auto& a : j.value("added_tokens", nlohmann::json::array())) {
    AddedToken at;
    try {
      at.content = a.at("content").get<std::string>();
      const auto id = json_int(a.at("id"), 0, kMaxTokenIds - 1);
      if (!id) {
        throw Error(ErrorCode::kInvalidModel, where + ": added token " + json_brief(a["content"]) +
                                                  " needs an integer id in 0.." +
                                                  std::to_string(kMaxTokenIds - 1));
      }
      at.id = static_cast<int32_t>(*id);
      at.special = a.value("special", false);
      at.single_word = a.value("single_word", false);
      at.lstrip = a.value("lstrip", false);
      at.rstrip = a.value("rstrip", false);
      at.normalized = a.value("normalized", !at.special);
    } catch (const nlohmann::json::exception& e) {
      throw Error(ErrorCode::kInvalidModel, where + ": malformed added token " + a.dump());
    }
    added.push_back(at);
  }
  t->id_space_ = t->model_->id_space();
  for (const auto& a : added) t->id_space_ = std::max(t->id_space_, static_cast<size_t>(a.id) + 1);
  if (const int32_t id = t->post_processor_->max_id();
      id >= 0 && static_cast<size_t>(id) >= t->id_space_) {
    throw Error(ErrorCode::kInvalidModel, where + ": post_processor adds special token id " +
                                              std::to_string(id) + ", outside the vocabulary (" +
                                              std::to_string(t->id_space_) + " ids)");
  }
  t->added_content_.assign(t->id_space_, std::string());
  t->special_.assign(t->id_space_, false);
  for (const auto& a : added) {
    t->added_content_[static_cast<size_t>(a.id)] = a.content;
    t->special_[static_cast<size_t>(a.id)] = a.special;
    t->added_ids_[a.content] = a.id;
    (a.normalized ? t->normalized_added_ : t->raw_added_)->add(a);
  }

  // Decoded bytes of every token, computed once: ByteLevel maps characters back to bytes;
  // added tokens decode to their text.
  t->decoded_.assign(t->id_space_, std::string());
  for (size_t id = 0; id < t->id_space_; ++id) {
    if (!t->added_content_[id].empty()) {
      t->decoded_[id] = t->added_content_[id];
    } else if (const std::string* s = t->model_->id_to_token(static_cast<int32_t>(id))) {
      if (!byte_level::decode(*s, t->decoded_[id])) t->decoded_[id] = *s;
    }
  }

  t->config_ =
      parse_tokenizer_config(cfg, where.substr(0, where.rfind('/') + 1) + "tokenizer_config.json");
  auto resolve = [&](const std::string& text) { return text.empty() ? -1 : t->token_to_id(text); };
  TokenizerConfig& c = t->config_;
  c.bos_token_id = resolve(c.bos_token);
  c.eos_token_id = resolve(c.eos_token);
  c.pad_token_id = resolve(c.pad_token);
  c.mask_token_id = resolve(c.mask_token);
  c.unk_token_id = resolve(c.unk_token);
  return t;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::string repaired;
  if (!utf8::is_valid(text)) {
    repaired = utf8::sanitize(text);
    text = repaired;
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  std::vector<AddedTokenMatcher::Segment> segs;
  if (raw_added_->empty()) {
    if (!text.empty()) segs.push_back({0, text.size(), -1});
  } else {
    raw_added_->split(text, segs);
  }
  std::string piece;
  std::vector<AddedTokenMatcher::Segment> inner;
  for (const auto& s : segs) {
    if (s.id >= 0) {
      ids.push_back(s.id);
      continue;
    }
    piece.assign(text.substr(s.begin, s.end - s.begin));
    normalizer_->normalize(piece);
    if (normalized_added_->empty()) {
      encode_text(piece, ids);
      continue;
    }
    inner.clear();
    normalized_added_->split(piece, inner);
    for (const auto& in : inner) {
      if (in.id >= 0) {
        ids.push_back(in.id);
      } else {
        encode_text(std::string_view(piece).substr(in.begin, in.end - in.begin), ids);
      }
    }
  }
  if (add_special_tokens) {
    post_processor_->apply(ids);
    if (config_.add_bos_token && config_.bos_token_id >= 0 &&
        (ids.empty() || ids.front() != config_.bos_token_id)) {
      ids.insert(ids.begin(), config_.bos_token_id);
    }
    if (config_.add_eos_token && config_.eos_token_id >= 0 &&
        (ids.empty() || ids.back() != config_.eos_token_id)) {
      ids.push_back(config_.eos_token_id);
    }
  }
  return ids;
}

void Tokenizer::encode_text(std::string_view text, std::vector<int32_t>& out) const {
  thread_local Pieces pieces, scratch;
  pre_tokenizer_->run(text, pieces, scratch, raw_bytes_);
  for (size_t i = 0; i < pieces.spans.size(); ++i) {
    if (raw_bytes_) {
      model_->tokenize_bytes(pieces.piece(i), out);
    } else {
      model_->tokenize(pieces.piece(i), out);
    }
  }
}

void Tokenizer::append_token_bytes(int32_t id, bool skip_special, std::string& out) const {
  if (id < 0 || static_cast<size_t>(id) >= id_space_) {
    throw Error(ErrorCode::kInvalidArgument,
                "ids: token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                    std::to_string(id_space_ - 1) + ")",
                "ids");
  }
  if (skip_special && special_[static_cast<size_t>(id)]) return;
  out.append(decoded_[static_cast<size_t>(id)]);
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::string bytes;
  for (int32_t id : ids) append_token_bytes(id, skip_special_tokens, bytes);
  if (utf8::is_valid(bytes)) return bytes;
  return utf8::sanitize(bytes);
}

int32_t Tokenizer::token_to_id(std::string_view token) const {
  // Added tokens take precedence (they may shadow a vocabulary entry).
  auto it = added_ids_.find(token);
  return it != added_ids_.end() ? it->second : model_->token_to_id(token);
}

std::string Tokenizer::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_space_) return "";
  if (!added_content_[static_cast<size_t>(id)].empty())
    return added_content_[static_cast<size_t>(id)];
  const std::string* s = model_->id_to_token(id);
  return s ? *s : "";
}

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < id_space_ && special_[static_cast<size_t>(id)];
}

size_t Tokenizer::vocab_size() const {
  return id_space_;
}

}  // namespace dlx
