#include "service/cli/decode_flags.h"

#include <algorithm>
#include <map>

#include "engine/decode/decode_keys.h"

namespace dlx::cli {
namespace {

// --gen-length -> gen_length
const std::map<std::string, std::string>& flag_to_key() {
  static const std::map<std::string, std::string> m = [] {
    std::map<std::string, std::string> out;
    for (const auto& k : decode_param_keys()) out[decode_key_flag(k)] = k;
    return out;
  }();
  return m;
}

}  // namespace

std::string decode_key_flag(const std::string& key) {
  std::string flag = key;
  for (char& ch : flag) {
    if (ch == '_') ch = '-';
  }
  return flag;
}

const std::set<std::string>& decode_flag_options() {
  static const std::set<std::string> s = [] {
    std::set<std::string> out;
    for (const auto& [flag, key] : flag_to_key()) out.insert(flag);
    return out;
  }();
  return s;
}

std::string decode_flags_help() {
  std::string out;
  for (const DecodeKey& k : decode_keys()) {
    std::string head = "  --" + decode_key_flag(k.name) + " " + k.values;
    head.resize(std::max<size_t>(head.size() + 1, 40), ' ');
    std::string doc = k.doc;  // its first clause; the README has the rest
    const size_t cut = std::min(doc.find("; "), doc.find(". "));
    if (cut != std::string::npos) doc.resize(cut);
    out += "\n" + head + doc;
  }
  return out;
}

TextOverrides decode_overrides(const Args& a) {
  TextOverrides out;
  for (const auto& [flag, value] : a.ordered()) {
    auto it = flag_to_key().find(flag);
    if (it != flag_to_key().end()) out.emplace_back(it->second, value);
  }
  return out;
}

}  // namespace dlx::cli
