// json_brief: a short, safe description of an untrusted JSON value for error messages.
// json::dump() recurses once per nesting level, so dumping a hostile value (a million nested
// arrays in a model file) overflows the stack; scalars are shown, containers only named.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace dlx {

inline std::string json_brief(const nlohmann::json& v) {
  constexpr size_t kMaxChars = 64;
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  if (v.is_binary()) return "binary data";
  // error_handler_t::replace: a string cut inside a UTF-8 sequence must not make dump() throw.
  auto dump = [](const nlohmann::json& x) {
    return x.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  if (v.is_string() && v.get_ref<const std::string&>().size() > kMaxChars) {
    const std::string& s = v.get_ref<const std::string&>();
    return dump(nlohmann::json(s.substr(0, kMaxChars))) + "... (" + std::to_string(s.size()) +
           " characters)";
  }
  return dump(v);
}

}  // namespace dlx
