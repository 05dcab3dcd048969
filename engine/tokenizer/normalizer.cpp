// Unicode normalization forms through utf8proc, with an ASCII fast path (every form is the
// identity on ASCII).
#include "engine/tokenizer/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>
#include <memory>

#include "engine/util/error.h"

namespace dlx {

Normalizer Normalizer::from_json(const nlohmann::json& j) {
  Normalizer n;
  if (!j.is_null()) n.add(j);
  return n;
}

void Normalizer::add(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
    throw Error(ErrorCode::kInvalidModel, "tokenizer.json: normalizer without a \"type\"");
  }
  const std::string type = j["type"];
  if (type == "Sequence") {
    for (const auto& n : j.value("normalizers", nlohmann::json::array())) add(n);
  } else if (type == "NFC") {
    forms_.push_back(Form::kNFC);
  } else if (type == "NFD") {
    forms_.push_back(Form::kNFD);
  } else if (type == "NFKC") {
    forms_.push_back(Form::kNFKC);
  } else if (type == "NFKD") {
    forms_.push_back(Form::kNFKD);
  } else {
    throw Error(ErrorCode::kUnsupported,
                "tokenizer.json: normalizer type '" + type +
                    "' is not supported (supported: NFC, NFD, NFKC, NFKD, Sequence)");
  }
}

void Normalizer::normalize(std::string& s) const {
  if (forms_.empty()) return;
  bool ascii = true;
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return;
  for (Form f : forms_) {
    int opts = UTF8PROC_STABLE;
    switch (f) {
      case Form::kNFC:
        opts |= UTF8PROC_COMPOSE;
        break;
      case Form::kNFD:
        opts |= UTF8PROC_DECOMPOSE;
        break;
      case Form::kNFKC:
        opts |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
        break;
      case Form::kNFKD:
        opts |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
        break;
    }
    utf8proc_uint8_t* out = nullptr;
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                            static_cast<utf8proc_ssize_t>(s.size()), &out,
                                            static_cast<utf8proc_option_t>(opts));
    std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(out, &std::free);
    if (n < 0) {
      // Input is sanitized before normalization, so this is a broken invariant.
      throw Error(ErrorCode::kInternal,
                  std::string("unicode normalization failed: ") + utf8proc_errmsg(n));
    }
    s.assign(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  }
}

}  // namespace dlx
