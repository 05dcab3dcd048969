// `diffulex chat`: an interactive conversation with a model through its chat template. On a
// terminal lines are edited with history (ChatInput) and the reply is shown being unmasked
// step by step; when stdin or stdout is not a terminal plain lines are read and only plain
// text is printed, so sessions can be scripted through a pipe.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/decode/generate.h"
#include "engine/decode/text_streamer.h"
#include "engine/util/error.h"
#include "service/cli/args.h"
#include "service/cli/chat_input.h"
#include "service/cli/chat_view.h"
#include "service/cli/commands.h"
#include "service/cli/decode_flags.h"
#include "service/cli/model_loader.h"

namespace dlx::cli {
namespace {

// Set by SIGINT; a signal handler can only reach a global.
std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) {
  g_interrupted.store(true);
}

// For a whole terminal session Ctrl-C only sets g_interrupted, which stops a reply being
// generated (at the prompt the line editor reads Ctrl-C as a key), so a Ctrl-C pressed just
// as a reply ends cannot kill the session.
class SigintToFlag {
 public:
  explicit SigintToFlag(bool on) : on_(on) {
    if (!on_) return;
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_);
  }
  ~SigintToFlag() {
    if (on_) sigaction(SIGINT, &old_, nullptr);
  }
  SigintToFlag(const SigintToFlag&) = delete;
  SigintToFlag& operator=(const SigintToFlag&) = delete;

 private:
  bool on_;
  struct sigaction old_ {};
};

constexpr const char* kBold = "\x1b[1m";
constexpr const char* kDim = "\x1b[2m";
constexpr const char* kReset = "\x1b[0m";

const char* kHelp =
    "commands:\n"
    "  /help            this list\n"
    "  /quit, /exit     leave\n"
    "  /clear           forget the conversation (the --system prompt stays)\n"
    "  /temp X          temperature (0 = greedy)\n"
    "  /topk N          top-k filter (0 = off)\n"
    "  /topp X          top-p filter (1 = off)\n"
    "  /max N           tokens to generate (gen_length)\n"
    "  /iter N          denoising steps over the reply (steps)\n"
    "  /conf X          confidence threshold of the threshold commit rules\n"
    "  /block N         block length\n"
    "  /set KEY VALUE   any decoding key (README: Decoding)\n"
    "  /show            current settings\n"
    "input:\n"
    "  line ending in \\ the message goes on with the next line (prompt ...)\n"
    "  up, down, Ctrl-R earlier lines, also of earlier sessions (on a terminal: emacs keys,\n"
    "                   ~/.editrc), kept in $XDG_STATE_HOME/diffulex/chat_history\n"
    "  Ctrl-C           stops a reply; at the prompt drops the line\n"
    "  Ctrl-D           leaves (so does Ctrl-C twice at an empty prompt)\n";

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

class ChatSession {
 public:
  ChatSession(std::shared_ptr<const LoadedModel> lm, DecodeParams params, std::string system,
              bool interactive)
      : lm_(std::move(lm)),
        params_(std::move(params)),
        system_(std::move(system)),
        interactive_(interactive) {
    clear();
  }

  int run() {
    const ModelConfig& c = lm_->model->config();
    if (interactive_) {
      std::printf("%sdiffulex chat%s: %s (%s). Type /help for commands, /quit to leave.\n", kBold,
                  kReset, c.dir.c_str(), c.family_name().c_str());
    }
    ChatInput input(interactive_, std::cin, interactive_ ? chat_history_path() : "");
    SigintToFlag sigint(interactive_);
    while (const std::optional<std::string> text = input.next()) {
      const std::string line = trim(*text);
      if (line.empty()) continue;
      if (line[0] == '/') {
        if (!command(line)) break;
      } else {
        turn(line);
      }
    }
    return 0;
  }

 private:
  void clear() {
    messages_ = nlohmann::ordered_json::array();
    if (!system_.empty()) messages_.push_back({{"role", "system"}, {"content", system_}});
  }

  void error(const std::string& msg) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s%s%s\n", interactive_ ? "\x1b[31m" : "", msg.c_str(),
                 interactive_ ? kReset : "");
  }

  // Sets decoding keys together; values the model cannot use are refused and the old ones kept.
  void set(const std::vector<std::pair<std::string, std::string>>& kv) {
    const DecodeParams before = params_;
    try {
      for (const auto& [key, value] : kv) set_param(params_, key, value);
      validate(params_, lm_->model->config(), 1);
      const auto j = to_json(params_);
      for (const auto& [key, value] : kv)
        std::printf("%s = %s\n", key.c_str(), j[key].dump().c_str());
    } catch (const Error& e) {
      params_ = before;
      error(std::string(e.what()) + " (kept the previous value)");
    }
  }

  void show() {
    const nlohmann::json j = to_json(params_);
    for (const auto& [k, v] : j.items()) std::printf("  %-17s %s\n", k.c_str(), v.dump().c_str());
    std::printf("  %-17s %zu\n", "messages", messages_.size());
  }

  // Returns false to leave the session.
  bool command(const std::string& line) {
    const size_t sp = line.find_first_of(" \t");
    const std::string cmd = line.substr(0, sp);
    const std::string arg = sp == std::string::npos ? "" : trim(line.substr(sp + 1));
    static const std::map<std::string, std::string> kKeys = {
        {"/temp", "temperature"}, {"/topk", "top_k"},     {"/topp", "top_p"},
        {"/max", "gen_length"},   {"/conf", "threshold"}, {"/block", "block_length"}};
    if (cmd == "/quit" || cmd == "/exit") return false;
    if (cmd == "/help") {
      std::fputs(kHelp, stdout);
    } else if (cmd == "/clear") {
      clear();
      std::printf("(conversation cleared)\n");
    } else if (cmd == "/show") {
      show();
    } else if (kKeys.count(cmd) || cmd == "/iter" || cmd == "/set") {
      std::string key, value = arg;
      if (cmd == "/set") {
        const size_t s = arg.find_first_of(" \t");
        key = arg.substr(0, s);
        value = s == std::string::npos ? "" : trim(arg.substr(s + 1));
      } else {
        key = cmd == "/iter" ? "steps" : kKeys.at(cmd);
      }
      if (key.empty() || value.empty()) {
        error(cmd + " needs a value (see /help)");
      } else if (key == "steps" && cmd == "/iter") {
        set({{"block_steps", "null"}, {"steps", value}});  // one step budget at a time
      } else {
        set({{key, value}});
      }
    } else {
      error("unknown command '" + cmd + "' (type /help)");
    }
    std::fflush(stdout);
    return true;
  }

  void turn(const std::string& text) {
    const Tokenizer& tok = *lm_->tokenizer;
    const Model& model = *lm_->model;
    messages_.push_back({{"role", "user"}, {"content", text}});
    std::vector<int32_t> prompt;
    try {
      prompt = tok.encode(render_chat(tok, messages_, true), false);
    } catch (const Error& e) {
      messages_.erase(messages_.end() - 1);
      error(std::string("cannot render the chat template: ") + e.what());
      return;
    }

    std::unique_ptr<CanvasView> view;
    TextStreamer streamer(tok, model.config());
    if (interactive_) view = std::make_unique<CanvasView>(tok, model.config(), stdout);
    GenerateOptions go;
    go.cancel = &g_interrupted;
    go.on_step = [&](const StepEvent& e) {
      if (view) {
        view->update(e);
      } else {
        std::fputs(streamer.update(e.canvas).c_str(), stdout);
        std::fflush(stdout);
      }
    };
    g_interrupted.store(false);  // a Ctrl-C before this reply is not meant for it
    GenerateResult r;
    std::string failure;
    try {
      r = generate(model, prompt, params_, go);
    } catch (const Error& e) {
      failure = e.code() == ErrorCode::kCancelled ? "(interrupted)" : e.what();
      if (e.code() == ErrorCode::kOutOfRange)
        failure += " (type /clear to start a new conversation)";
    }
    if (view) view->clear();
    if (!failure.empty()) {
      messages_.erase(messages_.end() - 1);
      if (!interactive_) std::printf("\n");
      error(failure);
      return;
    }

    // The reply: its text up to the end token, which also goes back into the conversation.
    TextStreamer whole(tok, model.config());
    const std::string answer = whole.finish(r.output_ids);
    if (interactive_) {
      std::printf("%s\n", answer.c_str());
    } else {
      std::printf("%s\n", streamer.finish(r.output_ids).c_str());
    }
    messages_.push_back({{"role", "assistant"}, {"content", answer}});

    const double secs = r.total_ms / 1000.0;
    const size_t n = static_cast<size_t>(r.answer_tokens);  // the answer, never padding
    char stats[256];
    std::snprintf(stats, sizeof(stats),
                  "[%zu tokens, %.1f tokens/s, %d forward calls, %.2f tokens/forward, prompt %zu "
                  "tokens, finish %s]",
                  n, secs > 0 ? static_cast<double>(n) / secs : 0.0, r.forward_calls,
                  r.forward_calls ? static_cast<double>(n) / r.forward_calls : 0.0, prompt.size(),
                  finish_reason_name(r.finish_reason));
    if (interactive_) {
      std::printf("%s%s%s\n", kDim, stats, kReset);
    } else {
      std::fflush(stdout);
      std::fprintf(stderr, "%s\n", stats);
    }
    std::fflush(stdout);
  }

  std::shared_ptr<const LoadedModel> lm_;
  DecodeParams params_;
  std::string system_;
  bool interactive_;
  nlohmann::ordered_json messages_;
};

}  // namespace

int cmd_chat(int argc, char** argv, int first) {
  std::set<std::string> options = model_options();
  options.insert(decode_flag_options().begin(), decode_flag_options().end());
  options.insert("system");
  Args a(argc, argv, first, options, {"help", "plain"});
  if (a.flag("help")) {
    std::cout
        << "usage: diffulex chat [--model DIR] [--weights FILE] [--device auto|cpu|opencl[:N]] "
           "[--threads N] [--system TEXT] [--plain] [--KEY VALUE ...]\n"
           "An interactive conversation through the model's chat template, with the family's "
           "default decoding unless --KEY flags (README: Decoding) change it. Without "
           "--model: the bundled demo model ($DIFFULEX_MODEL overrides it).\n"
           "When stdin or stdout is not a terminal (or with --plain) only plain text is "
           "printed: each reply and a newline on stdout, statistics on stderr.\n"
        << kHelp;
    return 0;
  }
  Engine engine = engine_from_args(a);
  auto lm = load_model_from_args(engine, a, /*need_tokenizer=*/true);
  if (lm->tokenizer->config().chat_template.empty()) {
    throw Error(ErrorCode::kInvalidArgument,
                lm->info.path +
                    ": the tokenizer has no chat_template, so chat cannot build prompts "
                    "(use diffulex generate --prompt)",
                "model");
  }
  DecodeParams params = resolve_decode_params(lm->model->config(), decode_overrides(a));
  validate(params, lm->model->config(), 1);
  const bool interactive = !a.flag("plain") && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
  ChatSession session(std::move(lm), std::move(params), a.str("system"), interactive);
  return session.run();
}

}  // namespace dlx::cli
