// Pre-tokenization with the Hugging Face tokenizers semantics: Split turns regex matches and
// the gaps between them into pieces per SplitDelimiterBehavior; ByteLevel maps bytes to GPT-2
// characters (after an optional prefix space and GPT-2 regex split). Empty pieces are dropped.
#include "engine/tokenizer/pre_tokenizer.h"

#include <algorithm>
#include <cctype>
#include <memory>

#include "engine/tokenizer/byte_level.h"
#include "engine/util/error.h"

namespace dlx {
namespace {

// The regex ByteLevel splits with when use_regex is true (the GPT-2 pattern).
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

std::string escape_literal(const std::string& s) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80 && !std::isalnum(u)) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

PreTokenizer PreTokenizer::from_json(const nlohmann::json& j) {
  PreTokenizer p;
  if (!j.is_null()) p.add(j);
  return p;
}

void PreTokenizer::add(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
    throw Error(ErrorCode::kInvalidModel, "tokenizer.json: pre_tokenizer without a \"type\"");
  }
  const std::string type = j["type"];
  Step s;
  if (type == "Sequence") {
    for (const auto& p : j.value("pretokenizers", nlohmann::json::array())) add(p);
    return;
  } else if (type == "Split") {
    s.kind = Step::Kind::kSplit;
    const auto& pat = j.at("pattern");
    if (pat.contains("Regex")) {
      s.regex = std::make_shared<Regex>(pat["Regex"].get<std::string>());
    } else if (pat.contains("String")) {
      s.regex = std::make_shared<Regex>(escape_literal(pat["String"].get<std::string>()));
    } else {
      throw Error(ErrorCode::kInvalidModel,
                  "tokenizer.json: Split pattern is neither Regex nor String");
    }
    const std::string b = j.value("behavior", "Isolated");
    if (b == "Removed") {
      s.behavior = Behavior::kRemoved;
    } else if (b == "Isolated") {
      s.behavior = Behavior::kIsolated;
    } else if (b == "MergedWithPrevious") {
      s.behavior = Behavior::kMergedWithPrevious;
    } else if (b == "MergedWithNext") {
      s.behavior = Behavior::kMergedWithNext;
    } else if (b == "Contiguous") {
      s.behavior = Behavior::kContiguous;
    } else {
      throw Error(ErrorCode::kUnsupported,
                  "tokenizer.json: Split behavior '" + b + "' is not supported");
    }
    s.invert = j.value("invert", false);
  } else if (type == "ByteLevel") {
    s.kind = Step::Kind::kByteLevel;
    s.add_prefix_space = j.value("add_prefix_space", true);
    if (j.value("use_regex", true)) s.regex = std::make_shared<Regex>(kGpt2Pattern);
  } else {
    throw Error(ErrorCode::kUnsupported,
                "tokenizer.json: pre_tokenizer type '" + type +
                    "' is not supported (supported: Split, ByteLevel, Sequence)");
  }
  steps_.push_back(std::move(s));
}

bool PreTokenizer::ends_with_plain_byte_level() const {
  return !steps_.empty() && steps_.back().kind == Step::Kind::kByteLevel &&
         !steps_.back().add_prefix_space && !steps_.back().regex;
}

void PreTokenizer::run(std::string_view in, Pieces& out, Pieces& scratch,
                       bool skip_final_byte_level) const {
  if (in.size() >= UINT32_MAX) {
    throw Error(ErrorCode::kInvalidArgument, "text: longer than 4 GiB", "text");
  }
  out.text.assign(in);
  out.spans.clear();
  if (!in.empty()) out.spans.emplace_back(0, static_cast<uint32_t>(in.size()));
  const size_t n = steps_.size() - (skip_final_byte_level && ends_with_plain_byte_level() ? 1 : 0);
  for (size_t k = 0; k < n; ++k) {
    const Step& s = steps_[k];
    if (s.kind == Step::Kind::kSplit) {
      split(s, out, scratch);
    } else {
      byte_level(s, out, scratch);
    }
    std::swap(out, scratch);
  }
}

void PreTokenizer::split(const Step& s, const Pieces& in, Pieces& out) {
  out.text = in.text;
  out.spans.clear();
  // (span, is_match) of one input piece, before the behavior is applied.
  thread_local std::vector<std::pair<size_t, size_t>> matches;
  thread_local std::vector<std::pair<std::pair<uint32_t, uint32_t>, bool>> parts;
  for (auto [b, e] : in.spans) {
    matches.clear();
    s.regex->find_all(std::string_view(in.text).substr(b, e - b), matches);
    parts.clear();
    uint32_t prev = b;
    for (auto [ms, me] : matches) {
      const auto mb = static_cast<uint32_t>(b + ms), mend = static_cast<uint32_t>(b + me);
      if (prev < mb) parts.push_back({{prev, mb}, s.invert});
      parts.push_back({{mb, mend}, !s.invert});
      prev = mend;
    }
    if (prev < e) parts.push_back({{prev, e}, s.invert});

    auto& spans = out.spans;
    const size_t first = spans.size();
    switch (s.behavior) {
      case Behavior::kRemoved:
        for (auto& [sp, m] : parts) {
          if (!m) spans.push_back(sp);
        }
        break;
      case Behavior::kIsolated:
        for (auto& [sp, m] : parts) spans.push_back(sp);
        break;
      case Behavior::kMergedWithPrevious: {
        bool prev_match = false;
        for (auto& [sp, m] : parts) {
          if (m && !prev_match && spans.size() > first) {
            spans.back().second = sp.second;
          } else {
            spans.push_back(sp);
          }
          prev_match = m;
        }
        break;
      }
      case Behavior::kMergedWithNext: {
        bool prev_match = false;
        for (size_t k = parts.size(); k-- > 0;) {
          auto& [sp, m] = parts[k];
          if (m && !prev_match && spans.size() > first) {
            spans.back().first = sp.first;
          } else {
            spans.push_back(sp);
          }
          prev_match = m;
        }
        std::reverse(spans.begin() + static_cast<std::ptrdiff_t>(first), spans.end());
        break;
      }
      case Behavior::kContiguous: {
        bool prev_match = false;
        for (auto& [sp, m] : parts) {
          if (m == prev_match && spans.size() > first) {
            spans.back().second = sp.second;
          } else {
            spans.push_back(sp);
          }
          prev_match = m;
        }
        break;
      }
    }
  }
}

void PreTokenizer::byte_level(const Step& s, const Pieces& in, Pieces& out) {
  out.text.clear();
  out.spans.clear();
  thread_local std::vector<std::pair<size_t, size_t>> matches;
  thread_local std::string word;
  for (auto [b, e] : in.spans) {
    std::string_view piece = std::string_view(in.text).substr(b, e - b);
    word.clear();
    if (s.add_prefix_space && (piece.empty() || piece[0] != ' ')) word.push_back(' ');
    word.append(piece);
    matches.clear();
    if (s.regex) {
      s.regex->find_all(word, matches);  // Isolated: gaps become pieces too
      thread_local std::vector<std::pair<size_t, size_t>> all;
      all.clear();
      size_t prev = 0;
      for (auto [ms, me] : matches) {
        if (prev < ms) all.emplace_back(prev, ms);
        all.emplace_back(ms, me);
        prev = me;
      }
      if (prev < word.size()) all.emplace_back(prev, word.size());
      matches.swap(all);
    } else if (!word.empty()) {
      matches.emplace_back(0, word.size());
    }
    for (auto [ms, me] : matches) {
      const auto start = static_cast<uint32_t>(out.text.size());
      byte_level::encode(std::string_view(word).substr(ms, me - ms), out.text);
      out.spans.emplace_back(start, static_cast<uint32_t>(out.text.size()));
    }
  }
}

}  // namespace dlx
