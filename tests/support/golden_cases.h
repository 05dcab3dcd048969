// The decoding parameters of a golden generation case (tests/fixtures/models/*/cases.json):
// the family's defaults with the case's "diffulex" keys applied through set_param, the CLI's
// path (every value from its text form).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "engine/decode/decode_params.h"

namespace dlx::test {

inline DecodeParams golden_case_params(const ModelConfig& config, const nlohmann::json& c) {
  DecodeParams p = default_decode_params(config);
  for (auto it = c["diffulex"].begin(); it != c["diffulex"].end(); ++it) {
    const auto& v = it.value();
    if (v.is_null()) continue;
    set_param(p, it.key(),
              v.is_string()    ? v.get<std::string>()
              : v.is_boolean() ? (v.get<bool>() ? "true" : "false")
                               : v.dump());
  }
  return p;
}

}  // namespace dlx::test
