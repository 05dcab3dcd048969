#include "service/cli/args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace dlx::cli {

Args::Args(int argc, char** argv, int first, const std::set<std::string>& options,
           const std::set<std::string>& flags) {
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || a.size() == 2) throw UsageError("unexpected argument '" + a + "'");
    std::string key = a.substr(2), value;
    bool has_value = false;
    if (auto eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
      has_value = true;
    }
    if (flags.count(key)) {
      if (has_value) throw UsageError("--" + key + " takes no value");
      flags_.insert(key);
      continue;
    }
    if (!options.count(key)) throw UsageError("unknown option --" + key);
    if (!has_value) {
      if (i + 1 >= argc) throw UsageError("--" + key + " needs a value");
      value = argv[++i];
    }
    values_[key] = value;
    ordered_.emplace_back(key, value);
  }
}

std::string Args::str(const std::string& key, const std::string& fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

std::string Args::required(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) throw UsageError("missing required option --" + key);
  return it->second;
}

std::vector<std::string> Args::all(const std::string& key) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : ordered_) {
    if (k == key) out.push_back(v);
  }
  return out;
}

int64_t Args::integer(const std::string& key, int64_t fallback) const {
  return has(key) ? parse_int(key, str(key)) : fallback;
}

double Args::number(const std::string& key, double fallback) const {
  return has(key) ? parse_number(key, str(key)) : fallback;
}

int64_t parse_int(const std::string& key, const std::string& s) {
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno == ERANGE) {
    throw UsageError("--" + key + ": '" + s + "' is not an integer");
  }
  return v;
}

double parse_number(const std::string& key, const std::string& s) {
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v)) {
    throw UsageError("--" + key + ": '" + s + "' is not a number");
  }
  return v;
}

std::vector<int32_t> parse_ids(const std::string& key, const std::string& s) {
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    std::string part = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    int64_t v = parse_int(key, part);
    if (v < 0 || v > INT32_MAX) throw UsageError("--" + key + ": token id " + part + " out of range");
    ids.push_back(static_cast<int32_t>(v));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  if (ids.empty()) throw UsageError("--" + key + " needs at least one token id");
  return ids;
}

}  // namespace dlx::cli
