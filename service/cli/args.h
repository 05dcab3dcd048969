// Args: `--key value` / `--flag` command-line parsing shared by every subcommand. Unknown or
// malformed options are usage errors (exit 2) with a one-line message.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <set>
#include <string>
#include <vector>

namespace dlx::cli {

// Thrown for usage errors; main() prints the message and exits 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Args {
 public:
  // `flags` take no value; every other known option takes exactly one.
  Args(int argc, char** argv, int first, const std::set<std::string>& options,
       const std::set<std::string>& flags = {});

  bool has(const std::string& key) const { return values_.count(key) > 0; }
  bool flag(const std::string& key) const { return flags_.count(key) > 0; }
  std::string str(const std::string& key, const std::string& fallback = "") const;
  std::string required(const std::string& key) const;
  int64_t integer(const std::string& key, int64_t fallback) const;
  double number(const std::string& key, double fallback) const;
  // Every --key value pair in order of appearance (for pass-through parameter sets).
  const std::vector<std::pair<std::string, std::string>>& ordered() const { return ordered_; }
  std::vector<std::string> all(const std::string& key) const;

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
  std::vector<std::pair<std::string, std::string>> ordered_;
};

int64_t parse_int(const std::string& key, const std::string& s);
double parse_number(const std::string& key, const std::string& s);
// "1,2,3" -> ids. Throws UsageError naming `key`.
std::vector<int32_t> parse_ids(const std::string& key, const std::string& s);

}  // namespace dlx::cli
