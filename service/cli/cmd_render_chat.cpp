// `diffulex render-chat`: prints the prompt a model's chat template makes of a conversation,
// exactly (no added newline), for debugging templates.
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

nlohmann::ordered_json read_json_arg(const std::string& flag, const std::string& text) {
  try {
    return nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kInvalidArgument, "--" + flag + ": malformed JSON: " + e.what(), flag);
  }
}

}  // namespace

int cmd_render_chat(int argc, char** argv, int first) {
  Args a(argc, argv, first, {"tokenizer", "messages", "vars"}, {"help", "add-generation-prompt"});
  if (a.flag("help")) {
    std::cout
        << "usage: diffulex render-chat --tokenizer PATH --messages FILE "
           "[--add-generation-prompt] [--vars JSON]\n"
           "FILE ('-' for stdin) holds a JSON list of {\"role\", \"content\"} messages, or an "
           "object {\"messages\": [...], other template variables}.\n"
           "--vars adds template variables, e.g. '{\"enable_thinking\": false}'. Prints the "
           "rendered prompt exactly, with no added newline.\n";
    return 0;
  }
  const std::string path = a.required("tokenizer");
  const std::string file = a.required("messages");
  std::string text;
  if (file == "-") {
    std::stringstream ss;
    ss << std::cin.rdbuf();
    text = ss.str();
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw UsageError("--messages: cannot open '" + file + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  nlohmann::ordered_json doc = read_json_arg("messages", text);
  nlohmann::ordered_json vars = nlohmann::ordered_json::object();
  nlohmann::ordered_json messages;
  if (doc.is_object() && doc.contains("messages")) {
    messages = doc["messages"];
    for (const auto& [k, v] : doc.items()) {
      if (k != "messages") vars[k] = v;
    }
  } else {
    messages = std::move(doc);
  }
  if (a.has("vars")) {
    const auto extra = read_json_arg("vars", a.str("vars"));
    if (!extra.is_object()) throw UsageError("--vars must be a JSON object");
    for (const auto& [k, v] : extra.items()) vars[k] = v;
  }
  auto tok = load_tokenizer(path);
  std::cout << render_chat(*tok, messages, a.flag("add-generation-prompt"), vars);
  std::cout.flush();
  return 0;
}

}  // namespace dlx::cli
