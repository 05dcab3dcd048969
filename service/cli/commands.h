// The `diffulex` subcommands. Each takes the full argv and the index of its first option,
// returns the process exit code, and throws UsageError / dlx::Error for main() to report.
#pragma once

namespace dlx::cli {

int cmd_forward(int argc, char** argv, int first);
int cmd_tokenize(int argc, char** argv, int first);
int cmd_detokenize(int argc, char** argv, int first);
int cmd_render_chat(int argc, char** argv, int first);
int cmd_chat(int argc, char** argv, int first);
int cmd_devices(int argc, char** argv, int first);
int cmd_generate(int argc, char** argv, int first);
int cmd_infill(int argc, char** argv, int first);
int cmd_make_random_model(int argc, char** argv, int first);
int cmd_convert(int argc, char** argv, int first);
int cmd_bench(int argc, char** argv, int first);
int cmd_quality(int argc, char** argv, int first);
int cmd_serve(int argc, char** argv, int first);
int cmd_healthcheck(int argc, char** argv, int first);

}  // namespace dlx::cli
