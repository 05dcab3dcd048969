#include "engine/util/json_parse.h"

namespace dlx {
namespace {

template <class J>
J parse_limited(std::string_view text, const std::string& source, ErrorCode code,
                const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    throw Error(code, source + ": JSON is " + std::to_string(text.size()) +
                          " bytes; the limit is " + std::to_string(limits.max_bytes));
  }
  // nlohmann's parser is iterative; the callback sees each container's depth as it opens, so
  // we stop before building anything deeper than the cap.
  const int max_depth = limits.max_depth;
  typename J::parser_callback_t cb = [&](int depth, typename J::parse_event_t ev, J&) {
    if ((ev == J::parse_event_t::object_start || ev == J::parse_event_t::array_start) &&
        depth >= max_depth) {
      throw Error(code,
                  source + ": JSON nests deeper than " + std::to_string(max_depth) + " levels");
    }
    return true;
  };
  try {
    return J::parse(text.begin(), text.end(), cb);
  } catch (const typename J::exception& e) {
    throw Error(code, source + ": invalid JSON: " + e.what());
  }
}

}  // namespace

nlohmann::json parse_json_limited(std::string_view text, const std::string& source, ErrorCode code,
                                  const JsonLimits& limits) {
  return parse_limited<nlohmann::json>(text, source, code, limits);
}

nlohmann::ordered_json parse_ordered_json_limited(std::string_view text, const std::string& source,
                                                  ErrorCode code, const JsonLimits& limits) {
  return parse_limited<nlohmann::ordered_json>(text, source, code, limits);
}

}  // namespace dlx
