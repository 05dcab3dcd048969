#include "engine/decode/template_text.h"

#include <string>

#include "engine/util/error.h"

namespace dlx {
namespace {

using nlohmann::json;

int hole_count(const json& v, const std::string& param, int lo) {
  if (!v.is_number_integer() && !v.is_number_unsigned()) {
    throw_invalid_argument(param, "must be an integer");
  }
  const int64_t n = v.get<int64_t>();
  if (n < lo || n > kMaxHoleTokens) {
    throw_invalid_argument(
        param, "must lie in " + std::to_string(lo) + ".." + std::to_string(kMaxHoleTokens));
  }
  return static_cast<int>(n);
}

CanvasPart hole_from_json(const json& v, const std::string& param) {
  if (v.is_number()) return CanvasPart::hole(hole_count(v, param, 1));
  if (!v.is_object()) {
    throw_invalid_argument(param, "must be a token count or {\"min\": A, \"max\": B}");
  }
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (it.key() != "min" && it.key() != "max") {
      throw_invalid_argument(param + "." + it.key(), "unknown key (expected min, max)");
    }
  }
  if (!v.contains("max")) throw_invalid_argument(param + ".max", "is required");
  const int max_n = hole_count(v["max"], param + ".max", 1);
  const int min_n = v.contains("min") ? hole_count(v["min"], param + ".min", 0) : 0;
  if (min_n > max_n) throw_invalid_argument(param + ".min", "must not exceed max");
  return CanvasPart::hole_range(min_n, max_n);
}

// "N" or "A-B" after the colon of a marker.
bool parse_size(std::string_view s, int& lo, int& hi) {
  auto number = [](std::string_view d, int& out) {
    if (d.empty() || d.size() > 6) return false;
    out = 0;
    for (char c : d) {
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    return true;
  };
  const size_t dash = s.find('-');
  if (dash == std::string_view::npos) {
    if (!number(s, hi)) return false;
    lo = hi;
    return true;
  }
  return number(s.substr(0, dash), lo) && number(s.substr(dash + 1), hi);
}

}  // namespace

CanvasTemplate template_from_json(const json& v) {
  if (!v.is_array() || v.empty()) {
    throw_invalid_argument("template",
                           "must be a non-empty array of {\"text\": ...} and {\"hole\": ...}");
  }
  CanvasTemplate t;
  bool any_hole = false;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string param = "template[" + std::to_string(i) + "]";
    const json& part = v[i];
    if (!part.is_object()) throw_invalid_argument(param, "must be {\"text\"} or {\"hole\"}");
    const bool text = part.contains("text"), hole = part.contains("hole");
    if (text == hole) throw_invalid_argument(param, "give exactly one of text and hole");
    for (auto it = part.begin(); it != part.end(); ++it) {
      if (it.key() != "text" && it.key() != "hole" && it.key() != "name") {
        throw_invalid_argument(param + "." + it.key(), "unknown key (expected text or hole, name)");
      }
    }
    CanvasPart p;
    if (text) {
      if (!part["text"].is_string()) throw_invalid_argument(param + ".text", "must be a string");
      p = CanvasPart::fixed(part["text"].get<std::string>());
    } else {
      p = hole_from_json(part["hole"], param + ".hole");
    }
    if (part.contains("name")) {
      if (!part["name"].is_string()) throw_invalid_argument(param + ".name", "must be a string");
      p.name = part["name"].get<std::string>();
    }
    any_hole = any_hole || hole;
    t.parts.push_back(std::move(p));
  }
  if (!any_hole) throw_invalid_argument("template", "needs at least one {\"hole\"} part");
  return t;
}

CanvasTemplate template_from_markers(std::string_view s) {
  CanvasTemplate t;
  std::string text;
  int holes = 0;
  for (size_t i = 0; i < s.size();) {
    if (s.compare(i, 2, "[[") == 0) {
      text += '[';
      i += 2;
      continue;
    }
    if (s[i] != '[' || i + 1 >= s.size() || s[i + 1] != '_') {
      text += s[i++];
      continue;
    }
    const size_t close = s.find(']', i);
    if (close == std::string_view::npos) {
      throw_invalid_argument("template",
                             "hole marker at byte " + std::to_string(i) + " has no closing ']'");
    }
    const std::string_view body = s.substr(i + 1, close - i - 1);  // "___" or "___:N" / "A-B"
    const size_t colon = body.find(':');
    const std::string_view bar = body.substr(0, colon);
    int lo = static_cast<int>(bar.size()), hi = lo;
    const bool bars = bar.find_first_not_of('_') == std::string_view::npos;
    if (!bars || (colon != std::string_view::npos && !parse_size(body.substr(colon + 1), lo, hi)) ||
        hi < 1 || lo > hi || hi > kMaxHoleTokens) {
      throw_invalid_argument("template", "hole " + std::to_string(holes + 1) + " '" +
                                             std::string(s.substr(i, close - i + 1)) +
                                             "': write [___], [___:N] or [___:A-B] with 1 <= "
                                             "A <= B <= " +
                                             std::to_string(kMaxHoleTokens));
    }
    if (!text.empty()) t.parts.push_back(CanvasPart::fixed(std::move(text)));
    text.clear();
    t.parts.push_back(CanvasPart::hole_range(lo, hi));
    ++holes;
    i = close + 1;
  }
  if (!text.empty()) t.parts.push_back(CanvasPart::fixed(std::move(text)));
  if (holes == 0) throw_invalid_argument("template", "has no hole: mark one with [___]");
  return t;
}

}  // namespace dlx
