// diffulex: the command-line entry point. Dispatches to a subcommand and turns errors into
// exit codes: 2 for usage errors (bad flags or parameter values), 1 for runtime failures.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "engine/util/error.h"
#include "engine/util/version.h"
#include "service/cli/args.h"
#include "service/cli/commands.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**, int);
  const char* help;
};

const Command kCommands[] = {
    {"forward", dlx::cli::cmd_forward, "run one forward pass and write the logits"},
    {"tokenize", dlx::cli::cmd_tokenize, "print the token ids of a text"},
    {"detokenize", dlx::cli::cmd_detokenize, "print the text of token ids"},
    {"render-chat", dlx::cli::cmd_render_chat,
     "print the prompt a chat template makes of messages"},
    {"chat", dlx::cli::cmd_chat, "talk with a model in the terminal (scriptable through a pipe)"},
    {"devices", dlx::cli::cmd_devices, "list the CPU and OpenCL devices --device can name"},
    {"generate", dlx::cli::cmd_generate, "generate with a diffusion decoding configuration"},
    {"infill", dlx::cli::cmd_infill, "fill a hole between a prefix and a suffix"},
    {"make-random-model", dlx::cli::cmd_make_random_model,
     "write a Hugging Face folder with random weights at real dimensions"},
    {"convert", dlx::cli::cmd_convert,
     "write a model folder as one GGUF file (f32, f16, bf16, q8_0, q4_0)"},
    {"bench", dlx::cli::cmd_bench, "time forward passes / generation; measure the machine's peak"},
    {"quality", dlx::cli::cmd_quality, "compare a model with a reference of the same weights"},
    {"serve", dlx::cli::cmd_serve, "serve the OpenAI-compatible and native HTTP API"},
    {"healthcheck", dlx::cli::cmd_healthcheck, "exit 0 when a running service's /health is 200"},
};

void print_usage(FILE* out) {
  std::fprintf(out, "usage: diffulex <command> [options]\n\ncommands:\n");
  for (const auto& c : kCommands) std::fprintf(out, "  %-18s %s\n", c.name, c.help);
  std::fprintf(
      out,
      "\nRun 'diffulex <command> --help' for a command's options, 'diffulex --version' for "
      "the version.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(stdout);
    return 0;
  }
  if (name == "--version" || name == "version") {
    std::printf("diffulex %s (%s)\n", dlx::version(), dlx::build_revision());
    return 0;
  }
  for (const auto& c : kCommands) {
    if (name != c.name) continue;
    try {
      return c.run(argc, argv, 2);
    } catch (const dlx::cli::UsageError& e) {
      std::fprintf(stderr, "diffulex %s: %s\n", c.name, e.what());
      return 2;
    } catch (const dlx::Error& e) {
      std::fprintf(stderr, "diffulex %s: %s\n", c.name, e.what());
      return e.code() == dlx::ErrorCode::kInvalidArgument ? 2 : 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "diffulex %s: error: %s\n", c.name, e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "diffulex: unknown command '%s'\n", name.c_str());
  print_usage(stderr);
  return 2;
}
