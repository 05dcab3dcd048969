// SAX handler: events inside model.vocab / model.merges are consumed here; every other event
// goes to nlohmann's own DOM builder.
#include "engine/tokenizer/tokenizer_json.h"

#include "engine/util/error.h"
#include "engine/util/json_parse.h"

namespace dlx {
namespace {

using json = nlohmann::json;

class Handler : public nlohmann::json_sax<json> {
 public:
  Handler(TokenizerJson& out, const std::string& where)
      : out_(out), dom_(out.rest), where_(where) {}

  bool null() override { return scalar() ? bad("null") : dom_.null(); }
  bool boolean(bool v) override { return scalar() ? bad("a boolean") : dom_.boolean(v); }
  bool number_integer(number_integer_t v) override {
    if (scalar() && mode_ == Mode::kVocab) return vocab_id(v);
    return capturing() ? bad("a number") : dom_.number_integer(v);
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (scalar() && mode_ == Mode::kVocab) {
      return vocab_id(v > static_cast<number_unsigned_t>(INT64_MAX) ? -1 : static_cast<int64_t>(v));
    }
    return capturing() ? bad("a number") : dom_.number_unsigned(v);
  }
  bool number_float(number_float_t v, const string_t& s) override {
    return scalar() ? bad("a non-integer number") : dom_.number_float(v, s);
  }
  bool binary(binary_t& v) override { return scalar() ? bad("binary data") : dom_.binary(v); }

  bool string(string_t& v) override {
    if (scalar() && mode_ == Mode::kMerges) {
      if (depth_ == capture_depth_ + 1) {
        out_.merges.push_back(BpeModel::split_merge(v));  // "a b"
      } else if (depth_ == capture_depth_ + 2 && pair_.size() < 2) {
        pair_.push_back(std::move(v));  // ["a", "b"]
      } else {
        return bad("a malformed merge");
      }
      return true;
    }
    return capturing() ? bad("a string") : dom_.string(v);
  }

  bool start_object(std::size_t n) override {
    enter();
    if (pending_ == Mode::kVocab) {
      begin_capture(Mode::kVocab);
      return true;
    }
    if (pending_ == Mode::kMerges) throw_bad("model.merges is not an array");
    return capturing() ? bad("an object") : dom_.start_object(n);
  }
  bool key(string_t& k) override {
    if (mode_ == Mode::kVocab) {
      key_ = std::move(k);
      return true;
    }
    if (capturing()) return bad("a key");
    if (depth_ == 1) top_key_ = k;
    if (depth_ == 2 && top_key_ == "model" && (k == "vocab" || k == "merges")) {
      pending_ = k == "vocab" ? Mode::kVocab : Mode::kMerges;  // the value is captured, not stored
      return true;
    }
    return dom_.key(k);
  }
  bool end_object() override {
    --depth_;
    if (mode_ == Mode::kVocab && depth_ == capture_depth_) {
      mode_ = Mode::kNone;
      return true;
    }
    return capturing() ? bad("an object") : dom_.end_object();
  }
  bool start_array(std::size_t n) override {
    enter();
    if (pending_ == Mode::kMerges) {
      begin_capture(Mode::kMerges);
      return true;
    }
    if (pending_ == Mode::kVocab) throw_bad("model.vocab is not an object");
    if (mode_ == Mode::kMerges && depth_ == capture_depth_ + 2) {
      pair_.clear();
      return true;
    }
    return capturing() ? bad("an array") : dom_.start_array(n);
  }
  bool end_array() override {
    --depth_;
    if (mode_ == Mode::kMerges) {
      if (depth_ == capture_depth_) {
        mode_ = Mode::kNone;
        return true;
      }
      if (depth_ == capture_depth_ + 1 && pair_.size() == 2) {
        out_.merges.emplace_back(std::move(pair_[0]), std::move(pair_[1]));
        return true;
      }
      return bad("a merge that is not a pair of strings");
    }
    return capturing() ? bad("an array") : dom_.end_array();
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    throw Error(ErrorCode::kInvalidModel, where_ + ": malformed JSON: " + e.what());
  }

 private:
  enum class Mode { kNone, kVocab, kMerges };
  bool capturing() const { return mode_ != Mode::kNone; }
  // Before a scalar value: model.vocab / model.merges themselves must be containers.
  bool scalar() const {
    if (pending_ == Mode::kVocab) throw_bad("model.vocab is not an object");
    if (pending_ == Mode::kMerges) throw_bad("model.merges is not an array");
    return capturing();
  }
  void begin_capture(Mode m) {
    mode_ = m;
    pending_ = Mode::kNone;
    capture_depth_ = depth_ - 1;
  }
  // The same nesting cap as every other JSON we read: the components built from this tree
  // (Sequence pre-tokenizers, normalizers, processors) are walked recursively.
  void enter() {
    if (++depth_ > kMaxDepth) {
      throw_bad("JSON nests deeper than " + std::to_string(kMaxDepth) + " levels");
    }
  }
  [[noreturn]] void throw_bad(const std::string& what) const {
    throw Error(ErrorCode::kInvalidModel, where_ + ": " + what);
  }
  bool bad(const std::string& what) const {
    throw_bad(std::string(mode_ == Mode::kVocab ? "model.vocab" : "model.merges") + " holds " +
              what + " where it should not");
  }
  bool vocab_id(int64_t id) {
    if (depth_ != capture_depth_ + 1) return bad("a nested value");
    out_.vocab.emplace_back(std::move(key_), id);
    return true;
  }

  static constexpr int kMaxDepth = JsonLimits{}.max_depth;
  TokenizerJson& out_;
  nlohmann::detail::json_sax_dom_parser<json> dom_;
  const std::string& where_;
  int depth_ = 0;
  int capture_depth_ = 0;
  std::string top_key_, key_;
  Mode mode_ = Mode::kNone, pending_ = Mode::kNone;
  std::vector<std::string> pair_;
};

}  // namespace

TokenizerJson parse_tokenizer_json(std::string_view text, const std::string& where) {
  TokenizerJson out;
  out.vocab.reserve(text.size() / 40);
  Handler h(out, where);
  json::sax_parse(text, &h);
  if (!out.rest.is_object()) throw Error(ErrorCode::kInvalidModel, where + ": not a JSON object");
  return out;
}

}  // namespace dlx
