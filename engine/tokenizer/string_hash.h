// Transparent string hashing so unordered maps keyed by std::string can be searched with a
// std::string_view without building a temporary string.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace dlx {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  size_t operator()(const std::string& s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace dlx
