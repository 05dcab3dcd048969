// `diffulex make-random-model`: writes a Hugging Face folder with random weights at a preset's
// real dimensions (for benchmarks without downloading checkpoints).

#include <algorithm>
#include <cstring>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "engine/devtools/random_model.h"
#include "engine/util/error.h"
#include "service/cli/args.h"
#include "service/cli/commands.h"
#include "service/cli/progress_bar.h"

namespace dlx::cli {
namespace {

// "2GB", "500MB", "64KB" (decimal, as Hugging Face's max_shard_size) or plain bytes.
uint64_t parse_size(const std::string& s) {
  struct Unit {
    const char* suffix;
    uint64_t mult;
  };
  static const Unit units[] = {{"GB", 1'000'000'000}, {"MB", 1'000'000}, {"KB", 1'000}, {"B", 1}};
  for (const Unit& u : units) {
    const std::string suf = u.suffix;
    if (s.size() > suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0) {
      const double v = parse_number("shard-size", s.substr(0, s.size() - suf.size()));
      if (v <= 0) throw UsageError("--shard-size must be positive");
      return static_cast<uint64_t>(v * static_cast<double>(u.mult));
    }
  }
  const int64_t v = parse_int("shard-size", s);
  if (v <= 0) throw UsageError("--shard-size must be positive");
  return static_cast<uint64_t>(v);
}

}  // namespace

int cmd_make_random_model(int argc, char** argv, int first) {
  Args a(argc, argv, first, {"family", "preset", "out", "dtype", "seed", "shard-size", "threads"},
         {"help", "quiet"});
  if (a.flag("help")) {
    std::cout << "usage: diffulex make-random-model --family llada|dream|sdar|fast_dllm_v2 "
                 "--preset NAME --out DIR\n"
                 "         [--dtype f32|bf16|f16] [--seed N] [--shard-size 2GB] [--threads N] "
                 "[--quiet]\n"
                 "Writes a Hugging Face folder (config.json with the family's keys, "
                 "generation_config.json,\nsafetensors shards + index when larger than "
                 "--shard-size, a small byte-level BPE tokenizer)\nwith N(0, 0.02) weights. "
                 "Presets:\n";
    size_t width = 0;
    for (const auto& p : random_model_presets()) width = std::max(width, std::strlen(p.name));
    for (const auto& p : random_model_presets()) {
      std::cout << "  " << p.name << std::string(width + 2 - std::strlen(p.name), ' ')
                << p.description << "\n";
    }
    return 0;
  }
  RandomModelOptions o;
  const std::string family = a.required("family");
  o.family = find_arch_spec_by_name(family);
  if (!o.family) {
    throw UsageError("--family: unknown family '" + family +
                     "' (known: llada, dream, sdar, fast_dllm_v2)");
  }
  o.preset = a.required("preset");
  if (!find_random_model_preset(o.preset)) {
    std::string names;
    for (const auto& p : random_model_presets())
      names += std::string(names.empty() ? "" : ", ") + p.name;
    throw UsageError("--preset: unknown preset '" + o.preset + "' (known: " + names + ")");
  }
  o.out_dir = a.required("out");
  const std::string dtype = a.str("dtype", "f32");
  if (!parse_dtype(dtype, &o.dtype) || o.dtype == DType::kI32) {
    throw UsageError("--dtype must be f32, bf16 or f16, got '" + dtype + "'");
  }
  const int64_t seed = a.integer("seed", 0);
  if (seed < 0) throw UsageError("--seed must be >= 0");
  o.seed = static_cast<uint64_t>(seed);
  if (a.has("shard-size")) o.shard_bytes = parse_size(a.str("shard-size"));
  const int64_t threads = a.integer("threads", 0);
  if (threads < 0) throw UsageError("--threads must be >= 0 (0 = all cores)");
  o.threads = static_cast<int>(threads);

  // Only large folders get a bar: a tiny model is written before anyone could read it.
  ProgressBar bar;
  const bool quiet = a.flag("quiet");
  auto progress = [&](uint64_t done, uint64_t total, const std::string& file) {
    if (!quiet && total >= (64ull << 20)) bar.update(done, total, file);
  };
  const RandomModelInfo info = write_random_model(o, progress);
  nlohmann::json out = {{"dir", o.out_dir},
                        {"family", family},
                        {"preset", o.preset},
                        {"dtype", dtype_name(o.dtype)},
                        {"seed", o.seed},
                        {"parameters", info.parameters},
                        {"weight_bytes", info.weight_bytes},
                        {"files", info.files}};
  std::cout << out.dump() << std::endl;
  return 0;
}

}  // namespace dlx::cli
