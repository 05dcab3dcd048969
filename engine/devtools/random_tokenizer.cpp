#include "engine/devtools/random_tokenizer.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <utility>

namespace dlx {
namespace {

// Training text for the merges: plain English with code and numbers, so common words become
// single tokens and encodings of ordinary prompts are short.
constexpr const char* kCorpus =
    "The quick brown fox jumps over the lazy dog. A diffusion language model writes a whole "
    "block of text at once: it starts from a canvas of mask tokens and, step by step, commits "
    "the tokens it is most confident about, until no mask is left. The model reads the prompt "
    "and the partly written answer in both directions, so every token can see every other "
    "token. This is different from an autoregressive model, which writes one token after the "
    "other from left to right.\n"
    "To measure the speed of the runtime we generate random weights with the real shapes of "
    "the models. The numbers are meaningless, but the time of a forward pass is the same as "
    "for the trained weights. We count the floating point operations of every matrix "
    "product and of the attention, and report them as a fraction of the peak of the machine "
    "that runs the benchmark.\n"
    "def forward(self, input_ids, attention_mask=None):\n"
    "    hidden_states = self.embed_tokens(input_ids)\n"
    "    for layer in self.layers:\n"
    "        hidden_states = layer(hidden_states, attention_mask)\n"
    "    return self.lm_head(self.norm(hidden_states))\n"
    "In 2024 and 2025 there were many open models: some with 1.5 billion parameters, some "
    "with 7 or 8 billion. The first of them were trained on 2 trillion tokens of text, the "
    "later ones on more than 10 trillion. They answer questions, write programs, translate "
    "between languages and explain their reasoning. What is the capital of France? The "
    "capital of France is Paris. How many days are there in a week? There are seven days in a "
    "week.\n";

// GPT-2's byte-to-unicode table: printable bytes map to themselves, the rest to U+0100...
std::vector<std::string> byte_alphabet() {
  std::vector<int> cps(256, -1);
  for (int b = 0; b < 256; ++b) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) cps[b] = b;
  }
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    if (cps[b] < 0) cps[b] = 256 + n++;
  }
  std::vector<std::string> out(256);
  for (int b = 0; b < 256; ++b) {
    const int cp = cps[b];
    std::string s;
    if (cp < 0x80) {
      s.push_back(static_cast<char>(cp));
    } else {
      s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    out[b] = s;
  }
  return out;
}

// A rough version of the pre-tokenizer's split: " word", digits one by one, punctuation runs,
// newlines and other whitespace on their own.
std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  size_t i = 0;
  auto letter = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; };
  auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  while (i < text.size()) {
    size_t j = i;
    const char c = text[i];
    if ((c == ' ' && i + 1 < text.size() && letter(text[i + 1])) || letter(c)) {
      j = i + 1;
      while (j < text.size() && letter(text[j])) ++j;
    } else if (digit(c)) {
      j = i + 1;
    } else if (c == ' ' || c == '\n') {
      j = i + 1;
      while (j < text.size() && text[j] == c &&
             !(c == ' ' && j + 1 < text.size() && letter(text[j + 1]))) {
        ++j;
      }
    } else {
      j = i + 1;
      while (j < text.size() && !letter(text[j]) && !digit(text[j]) && text[j] != ' ' &&
             text[j] != '\n') {
        ++j;
      }
    }
    words.push_back(text.substr(i, j - i));
    i = j;
  }
  return words;
}

}  // namespace

nlohmann::json make_bpe_tokenizer_json(int max_regular, const std::vector<SpecialToken>& specials) {
  using json = nlohmann::json;
  const std::vector<std::string> alphabet = byte_alphabet();

  // Words as sequences of symbols, with their counts.
  std::map<std::string, int> word_counts;
  for (const std::string& w : split_words(kCorpus)) ++word_counts[w];
  std::vector<std::pair<std::vector<std::string>, int>> words;
  for (const auto& [w, n] : word_counts) {
    std::vector<std::string> syms;
    for (unsigned char b : w) syms.push_back(alphabet[b]);
    words.emplace_back(std::move(syms), n);
  }

  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[alphabet[b]] = b;
  json merges = json::array();
  int next_id = 256;
  while (next_id < max_regular) {
    std::map<std::pair<std::string, std::string>, int> pairs;
    for (const auto& [syms, n] : words) {
      for (size_t i = 0; i + 1 < syms.size(); ++i) pairs[{syms[i], syms[i + 1]}] += n;
    }
    // Most frequent pair; ties go to the smallest pair (the map's order), so the result is
    // deterministic.
    auto best = pairs.end();
    for (auto it = pairs.begin(); it != pairs.end(); ++it) {
      if (best == pairs.end() || it->second > best->second) best = it;
    }
    if (best == pairs.end() || best->second < 2) break;
    const auto [a, b] = best->first;
    const std::string merged = a + b;
    // Two different splits can spell the same string; the first one owns the token.
    if (!vocab.contains(merged)) vocab[merged] = next_id++;
    merges.push_back({a, b});
    for (auto& [syms, n] : words) {
      for (size_t i = 0; i + 1 < syms.size(); ++i) {
        if (syms[i] == a && syms[i + 1] == b) {
          syms[i] = merged;
          syms.erase(syms.begin() + static_cast<long>(i) + 1);
        }
      }
    }
  }

  json added = json::array();
  for (const SpecialToken& s : specials) {
    added.push_back({{"id", s.id},
                     {"content", s.content},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  const json byte_level = {{"type", "ByteLevel"},
                           {"add_prefix_space", false},
                           {"trim_offsets", false},
                           {"use_regex", false}};
  // Qwen2's split pattern (also what the fixtures' tokenizers use).
  const std::string pattern =
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  json tok = json::object();
  tok["version"] = "1.0";
  tok["truncation"] = nullptr;
  tok["padding"] = nullptr;
  tok["added_tokens"] = added;
  tok["normalizer"] = {{"type", "NFC"}};
  tok["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers", json::array({{{"type", "Split"},
                                                          {"pattern", {{"Regex", pattern}}},
                                                          {"behavior", "Isolated"},
                                                          {"invert", false}},
                                                         byte_level})}};
  tok["post_processor"] = byte_level;
  tok["decoder"] = byte_level;
  tok["model"] = {{"type", "BPE"},
                  {"dropout", nullptr},
                  {"unk_token", nullptr},
                  {"continuing_subword_prefix", ""},
                  {"end_of_word_suffix", ""},
                  {"fuse_unk", false},
                  {"byte_fallback", false},
                  {"ignore_merges", false},
                  {"vocab", vocab},
                  {"merges", merges}};
  return tok;
}

}  // namespace dlx
