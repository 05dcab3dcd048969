// `diffulex tokenize` / `diffulex detokenize`: text <-> token ids with a model's tokenizer.json.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/engine.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/util/error.h"
#include "service/cli/args.h"
#include "service/cli/commands.h"

namespace dlx::cli {
namespace {

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::string read_input_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("--file: cannot open '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int cmd_tokenize(int argc, char** argv, int first) {
  Args a(argc, argv, first, {"tokenizer", "text", "file"},
         {"help", "json", "add-special-tokens", "stats"});
  if (a.flag("help")) {
    std::cout << "usage: diffulex tokenize --tokenizer PATH (--text T | --file F) [--json] "
                 "[--add-special-tokens] [--stats]\n"
                 "Prints the token ids, comma-separated (with --json: {\"ids\":[...]}). PATH is "
                 "a tokenizer.json, a folder holding it, or a .gguf model file.\n"
                 "Invalid UTF-8 in the text is replaced with U+FFFD. --stats prints the encoding "
                 "speed to stderr.\n";
    return 0;
  }
  const std::string path = a.required("tokenizer");
  if (a.has("text") == a.has("file")) throw UsageError("give exactly one of --text or --file");
  const std::string text = a.has("text") ? a.str("text") : read_input_file(a.str("file"));
  auto tok = load_tokenizer(path);

  const auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = thread_cpu_seconds();
  const std::vector<int32_t> ids = tok->encode(text, a.flag("add-special-tokens"));
  const double cpu = thread_cpu_seconds() - cpu0;
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  if (a.flag("json")) {
    std::cout << nlohmann::json{{"ids", ids}}.dump() << "\n";
  } else {
    std::string line;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) line.push_back(',');
      line += std::to_string(ids[i]);
    }
    std::cout << line << "\n";
  }
  if (a.flag("stats")) {
    // CPU time too: on a busy machine it measures the tokenizer rather than the scheduler.
    auto mbps = [&](double s) { return s > 0 ? static_cast<double>(text.size()) / s / 1e6 : 0.0; };
    std::fprintf(stderr,
                 "%zu bytes -> %zu tokens in %.2f ms wall (%.1f MB/s), %.2f ms CPU (%.1f MB/s)\n",
                 text.size(), ids.size(), sec * 1e3, mbps(sec), cpu * 1e3, mbps(cpu));
  }
  return 0;
}

int cmd_detokenize(int argc, char** argv, int first) {
  Args a(argc, argv, first, {"tokenizer", "ids"}, {"help", "json", "skip-special-tokens"});
  if (a.flag("help")) {
    std::cout << "usage: diffulex detokenize --tokenizer PATH --ids 1,2,3 [--skip-special-tokens] "
                 "[--json]\n"
                 "Prints the decoded text exactly, with no added newline (with --json: "
                 "{\"text\":\"...\"} and a newline).\n";
    return 0;
  }
  const std::string path = a.required("tokenizer");
  const std::vector<int32_t> ids = parse_ids("ids", a.required("ids"));
  auto tok = load_tokenizer(path);
  const std::string text = tok->decode(ids, a.flag("skip-special-tokens"));
  if (a.flag("json")) {
    std::cout << nlohmann::json{{"text", text}}.dump() << "\n";
  } else {
    std::cout << text;
  }
  std::cout.flush();
  return 0;
}

}  // namespace dlx::cli
