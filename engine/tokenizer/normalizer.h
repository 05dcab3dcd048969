// Normalizer: the tokenizer.json "normalizer" component. Supported: null, NFC, NFD, NFKC,
// NFKD (via utf8proc) and Sequence of these; any other type is Error kUnsupported.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace dlx {

class Normalizer {
 public:
  enum class Form { kNFC, kNFD, kNFKC, kNFKD };

  // From the JSON value of "normalizer" (null allowed: no normalization).
  static Normalizer from_json(const nlohmann::json& j);

  bool empty() const { return forms_.empty(); }
  // Normalizes valid UTF-8 s in place.
  void normalize(std::string& s) const;

 private:
  void add(const nlohmann::json& j);
  std::vector<Form> forms_;
};

}  // namespace dlx
