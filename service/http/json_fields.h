// Typed reads of request-body fields shared by the OpenAI, native and Ollama parsers. Each
// throws ApiError 400 naming `param` when the value has the wrong type or range.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace dlx::http {

int64_t get_int(const nlohmann::json& v, const std::string& param, int64_t lo, int64_t hi);
double get_number(const nlohmann::json& v, const std::string& param);  // finite
bool get_bool(const nlohmann::json& v, const std::string& param);
std::string get_string(const nlohmann::json& v, const std::string& param);
std::vector<int32_t> get_ids(const nlohmann::json& v, const std::string& param);
// OpenAI `stop`: a string or up to 4 non-empty strings (`param` names it in errors).
std::vector<std::string> get_stop(const nlohmann::json& v, const std::string& param = "stop");
// Chat messages: a non-empty array of {role, content}; content a string, null, or OpenAI
// content parts of type "text" (joined). Other keys of a message are kept.
nlohmann::json normalize_messages(const nlohmann::json& v);

}  // namespace dlx::http
