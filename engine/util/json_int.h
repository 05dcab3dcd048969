// Integers out of untrusted JSON. nlohmann's get<int32_t>() converts whatever number it holds:
// a float out of range is undefined behaviour and a large integer silently wraps. Ids and
// sizes read from model files go through json_int instead.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>

namespace dlx {

// The value when `v` is an integer (not a float) in [lo, hi]; nullopt otherwise.
inline std::optional<int64_t> json_int(const nlohmann::json& v, int64_t lo, int64_t hi) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (hi < 0 || u > static_cast<uint64_t>(hi) || static_cast<int64_t>(u) < lo) {
      return std::nullopt;
    }
    return static_cast<int64_t>(u);
  }
  if (!v.is_number_integer()) return std::nullopt;
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi) return std::nullopt;
  return x;
}

}  // namespace dlx
