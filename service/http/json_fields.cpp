#include "service/http/json_fields.h"

#include <cmath>

#include "service/http/api_error.h"

namespace dlx::http {

using nlohmann::json;

int64_t get_int(const json& v, const std::string& param, int64_t lo, int64_t hi) {
  int64_t x = 0;
  if (v.is_number_integer()) {
    x = v.get<int64_t>();
  } else if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(hi)) throw bad_request(param, "is too large");
    x = static_cast<int64_t>(u);
  } else if (v.is_number_float() && std::isfinite(v.get<double>()) &&
             std::floor(v.get<double>()) == v.get<double>() && std::fabs(v.get<double>()) < 1e15) {
    x = static_cast<int64_t>(v.get<double>());
  } else {
    throw bad_request(param, "must be an integer");
  }
  if (x < lo || x > hi) {
    throw bad_request(param,
                      "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  }
  return x;
}

double get_number(const json& v, const std::string& param) {
  if (!v.is_number() || !std::isfinite(v.get<double>()))
    throw bad_request(param, "must be a number");
  return v.get<double>();
}

bool get_bool(const json& v, const std::string& param) {
  if (!v.is_boolean()) throw bad_request(param, "must be true or false");
  return v.get<bool>();
}

std::string get_string(const json& v, const std::string& param) {
  if (!v.is_string()) throw bad_request(param, "must be a string");
  return v.get<std::string>();
}

std::vector<int32_t> get_ids(const json& v, const std::string& param) {
  if (!v.is_array()) throw bad_request(param, "must be an array of token ids");
  std::vector<int32_t> ids;
  ids.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    ids.push_back(
        static_cast<int32_t>(get_int(v[i], param + "[" + std::to_string(i) + "]", 0, INT32_MAX)));
  }
  return ids;
}

std::vector<std::string> get_stop(const json& v, const std::string& param) {
  std::vector<std::string> out;
  if (v.is_null()) return out;
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
  } else if (v.is_array()) {
    if (v.size() > 4) throw bad_request(param, "at most 4 stop strings");
    for (const auto& s : v) out.push_back(get_string(s, param));
  } else {
    throw bad_request(param, "must be a string or an array of strings");
  }
  for (const auto& s : out) {
    if (s.empty()) throw bad_request(param, "stop strings must not be empty");
  }
  return out;
}

json normalize_messages(const json& v) {
  if (!v.is_array() || v.empty()) throw bad_request("messages", "must be a non-empty array");
  json out = json::array();
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = "messages[" + std::to_string(i) + "]";
    const json& m = v[i];
    if (!m.is_object()) throw bad_request(p, "must be an object with role and content");
    if (!m.contains("role")) throw bad_request(p + ".role", "is required");
    json msg = m;
    msg["role"] = get_string(m["role"], p + ".role");
    const json content = m.value("content", json(nullptr));
    if (content.is_array()) {
      std::string text;
      for (size_t k = 0; k < content.size(); ++k) {
        const json& part = content[k];
        const std::string pp = p + ".content[" + std::to_string(k) + "]";
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text")) {
          throw bad_request(pp, "only parts of type \"text\" are supported");
        }
        text += get_string(part["text"], pp + ".text");
      }
      msg["content"] = text;
    } else if (content.is_null()) {
      msg["content"] = "";
    } else {
      msg["content"] = get_string(content, p + ".content");
    }
    out.push_back(std::move(msg));
  }
  return out;
}

}  // namespace dlx::http
