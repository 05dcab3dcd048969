// `diffulex convert`: writes a Hugging Face model folder as one GGUF file (the whole model:
// weights in the chosen type, config, tokenizer, chat template, generation defaults).
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "engine/model/gguf_convert.h"
#include "engine/util/error.h"
#include "service/cli/args.h"
#include "service/cli/commands.h"
#include "service/cli/progress_bar.h"

namespace dlx::cli {

int cmd_convert(int argc, char** argv, int first) {
  Args a(argc, argv, first, {"model", "out", "type", "weights"}, {"help", "quiet", "json"});
  if (a.flag("help")) {
    std::cout
        << "usage: diffulex convert --model DIR --out FILE.gguf [--type f32|f16|bf16|q8_0|q4_0]\n"
           "         [--weights FILE.safetensors] [--quiet] [--json]\n"
           "Writes the Hugging Face folder DIR as one GGUF file: weights in --type (default f16;\n"
           "norms and biases stay f32, q4_0 keeps the embedding and LM head at q8_0), config,\n"
           "tokenizer, chat template and generation defaults. Dream and LLaDA use llama.cpp's\n"
           "names, so llama.cpp reads the file too. Any --model option then takes FILE.gguf.\n";
    return 0;
  }
  ConvertOptions o;
  o.model_dir = a.required("model");
  o.out = a.required("out");
  o.type = parse_convert_type(a.str("type", "f16"), "type");
  o.weights = a.str("weights");
  ProgressBar bar;
  const bool quiet = a.flag("quiet");
  o.progress = [&](uint64_t done, uint64_t total) {
    if (!quiet) bar.update(done, total, o.out);
  };
  const ConvertSummary s = convert_to_gguf(o);
  nlohmann::json types = nlohmann::json::object();
  for (const auto& [t, n] : s.tensors_by_type) types[t] = n;
  if (a.flag("json")) {
    std::cout << nlohmann::json{{"out", s.out},
                                {"type", dtype_name(o.type)},
                                {"file_bytes", s.file_bytes},
                                {"parameters", s.parameters},
                                {"bits_per_weight", s.bits_per_weight},
                                {"seconds", s.seconds},
                                {"tensors", types},
                                {"fallbacks", s.fallbacks}}
                     .dump()
              << std::endl;
    return 0;
  }
  std::printf("wrote %s: %.2f MB, %lld parameters, %.2f bits per weight, %.1f s\n", s.out.c_str(),
              s.file_bytes / 1e6, static_cast<long long>(s.parameters), s.bits_per_weight,
              s.seconds);
  std::printf("tensors: %s\n", types.dump().c_str());
  for (const auto& f : s.fallbacks) std::printf("kept wider: %s\n", f.c_str());
  return 0;
}

}  // namespace dlx::cli
