// Why a generation ended. The names are the OpenAI finish_reason strings, and the only string
// form (CLI JSON, HTTP JSON, the generation log).
#pragma once

#include <optional>
#include <string_view>

namespace dlx {

enum class FinishReason {
  kStop,    // the model committed its end token (or a stop string matched)
  kLength,  // the generated region filled up
};

inline const char* finish_reason_name(FinishReason r) {
  return r == FinishReason::kStop ? "stop" : "length";
}

inline std::optional<FinishReason> parse_finish_reason(std::string_view s) {
  if (s == "stop") return FinishReason::kStop;
  if (s == "length") return FinishReason::kLength;
  return std::nullopt;
}

}  // namespace dlx
