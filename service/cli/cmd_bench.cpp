// `diffulex bench`: forward-pass timings per canvas length (ms, GFLOP/s, fraction of this
// machine's measured peak, RSS, load time), optional end-to-end generation, and --peak, the
// machine's own fp32 / bf16 / int8 / memory limits.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/backend/cpu/cpu_features.h"
#include "engine/backend/cpu/cpu_kernels.h"
#include "engine/decode/generate.h"
#include "engine/devtools/forward_bench.h"
#include "engine/devtools/peak.h"
#include "engine/util/error.h"
#include "engine/util/thread_pool.h"
#include "service/cli/args.h"
#include "service/cli/commands.h"
#include "service/cli/decode_flags.h"
#include "service/cli/model_loader.h"

namespace dlx::cli {
namespace {

using json = nlohmann::json;

std::vector<int> parse_canvas(const std::string& s) {
  std::vector<int> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    const size_t comma = s.find(',', pos);
    const std::string part =
        s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    const int64_t v = parse_int("canvas", part);
    if (v <= 0 || v > (1 << 20))
      throw UsageError("--canvas: lengths must be positive, got " + part);
    out.push_back(static_cast<int>(v));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

json peak_json(const bench::PeakResult& p) {
  return {{"kind", bench::peak_kind_name(p.kind)},
          {"isa", p.isa},
          {"threads", p.threads},
          {"value", p.value},
          {"unit", bench::peak_unit(p.kind)}};
}

// The CPU's instruction sets as the kernels see them, with AMX when the bf16 matmuls use it.
std::string cpu_description() {
  return cpu::cpu_features().describe() + (cpu::has_amx_bf16() ? "+amx_bf16" : "");
}

// Ops by time per forward, largest first.
std::vector<std::pair<std::string, OpStats>> ops_by_time(const OpProfile& p) {
  std::vector<std::pair<std::string, OpStats>> v(p.ops.begin(), p.ops.end());
  std::sort(v.begin(), v.end(),
            [](const auto& a, const auto& b) { return a.second.ms > b.second.ms; });
  return v;
}

json profile_json(const OpProfile& p, double peak) {
  json arr = json::array();
  double total = 0;
  for (const auto& [name, s] : p.ops) total += s.ms;
  const double n = std::max(1, p.forwards);
  for (const auto& [name, s] : ops_by_time(p)) {
    const double gflops = s.flops > 0 && s.ms > 0 ? s.flops / (s.ms * 1e-3) / 1e9 : 0;
    arr.push_back(
        {{"op", name},
         {"ms_per_forward", s.ms / n},
         {"share", total > 0 ? s.ms / total : 0},
         {"calls_per_forward", s.calls / n},
         {"gflops", s.flops > 0 ? json(gflops) : json(nullptr)},
         {"peak_fraction", s.flops > 0 && peak > 0 ? json(gflops / peak) : json(nullptr)}});
  }
  return arr;
}

void print_profile(const OpProfile& p, double peak, int canvas) {
  std::printf(
      "  profile of the %d-token forwards (each op synced; sampler: greedy, probability\n"
      "  confidence, every row):\n",
      canvas);
  std::printf("  %-20s %12s %7s %7s %10s %8s\n", "op", "ms/forward", "share", "calls", "GFLOP/s",
              "of_peak");
  for (const auto& o : profile_json(p, peak)) {
    std::printf("  %-20s %12.2f %6.1f%% %7.0f", o["op"].get<std::string>().c_str(),
                o["ms_per_forward"].get<double>(), 100 * o["share"].get<double>(),
                o["calls_per_forward"].get<double>());
    if (o["gflops"].is_null()) {
      std::printf("\n");
    } else if (o["peak_fraction"].is_null()) {
      std::printf(" %10.1f\n", o["gflops"].get<double>());
    } else {
      std::printf(" %10.1f %7.1f%%\n", o["gflops"].get<double>(),
                  100 * o["peak_fraction"].get<double>());
    }
  }
}

void print_peaks(const std::vector<bench::PeakResult>& peaks) {
  std::printf("%-10s %-12s %8s %12s\n", "kind", "isa", "threads", "peak");
  for (const auto& p : peaks) {
    std::printf("%-10s %-12s %8d %8.1f %s\n", bench::peak_kind_name(p.kind), p.isa.c_str(),
                p.threads, p.value, bench::peak_unit(p.kind));
  }
}

}  // namespace

int cmd_bench(int argc, char** argv, int first) {
  std::set<std::string> options = model_options();
  options.insert({"canvas", "reps", "warmup", "attn-block", "prompt-ids", "prompt-len", "context"});
  options.insert(decode_flag_options().begin(), decode_flag_options().end());
  Args a(argc, argv, first, options, {"help", "json", "generate", "peak", "profile"});
  if (a.flag("help")) {
    std::cout
        << "usage: diffulex bench --model DIR [--weights FILE] [--device auto|cpu|opencl[:N]]\n"
           "         [--threads N] [--canvas 32,81,256] [--reps 5] [--warmup 1]\n"
           "         [--attn-block B] [--precision auto|exact|bf16|int8] [--json] [--peak]\n"
           "         [--context N] [--profile]\n"
           "         [--generate [--prompt-len 16 | --prompt-ids 1,2,3] [--KEY VALUE ...]]\n"
           "       diffulex bench --peak [--threads N] [--json]\n"
           "Times forward passes over canvases of each length (logits for every row), reports\n"
           "median/min/max ms, GFLOP/s (2 x matmul weights x tokens + attention), the fraction\n"
           "of this machine's measured peak, peak RSS and load time.\n"
           "--attn-block: attention block of block-causal families (default: the config's\n"
           "training block; 0 = bidirectional).\n"
           "--precision: how products with the weights are computed (README \"Precision\").\n"
           "--context: positions already in the KV cache before each canvas (prefilled once,\n"
           "untimed): the canvas is a decode step attending to them.\n"
           "--profile: time per op (matmuls by weight, attention, norms, LM head, sampler)\n"
           "and GFLOP/s per op, per forward.\n"
           "--generate: also one generation with the decoding keys (stop_at_eos defaults to\n"
           "false so the whole canvas is decoded):";
    std::cout << decode_flags_help();
    std::cout << "\nWith --json the last stdout line is one JSON object.\n";
    return 0;
  }
  const bool as_json = a.flag("json");
  const int64_t threads_arg = a.integer("threads", 0);
  if (threads_arg < 0) throw UsageError("--threads must be >= 0 (0 = all cores)");
  const int threads =
      threads_arg == 0 ? ThreadPool::hardware_threads() : static_cast<int>(threads_arg);
  if (!a.has("model") && !a.flag("peak")) throw UsageError("give --model DIR, --peak, or both");

  json out;
  std::vector<bench::PeakResult> peaks;
  if (a.flag("peak")) {
    peaks = bench::measure_all_peaks(threads);
    json arr = json::array();
    for (const auto& p : peaks) arr.push_back(peak_json(p));
    out["cpu"] = cpu_description();
    out["peak"] = arr;
    if (!as_json) {
      std::printf("peak of this machine (%s):\n", cpu_description().c_str());
      print_peaks(peaks);
    }
    if (!a.has("model")) {
      if (as_json) std::cout << out.dump() << std::endl;
      return 0;
    }
  }

  // --- forward benchmark ---
  const std::vector<int> canvases = parse_canvas(a.str("canvas", "32,81,256"));
  const int64_t reps = a.integer("reps", 5), warmup = a.integer("warmup", 1);
  const int64_t context = a.integer("context", 0);
  if (context < 0) throw UsageError("--context must be >= 0");
  const bool profile = a.flag("profile");
  if (reps < 1 || reps > 100000) throw UsageError("--reps must be at least 1");
  if (warmup < 1 || warmup > 100000) throw UsageError("--warmup must be at least 1");
  Engine engine = engine_from_args(a);
  const auto lm = load_model_from_args(engine, a, false);
  const std::shared_ptr<const Model>& model = lm->model;
  const double load_ms = lm->load_ms;
  const ModelConfig& c = model->config();

  // The matmuls' arithmetic decides which peak applies: bf16 dot products only in bf16 mode
  // with bf16 weights, int8 dot products for quantized weights in int8 mode (GOP/s), fp32 FMA
  // otherwise.
  const std::string matmul = precision_name(model->precision());
  const bool bf16_dot = model->precision() == Precision::kBF16 &&
                        model->weight_dtype() == DType::kBF16 &&
                        bench::peak_supported(bench::PeakKind::kBf16Dot);
  const bool int8_dot = model->precision() == Precision::kInt8 &&
                        dtype_is_quantized(model->weight_dtype()) &&
                        bench::peak_supported(bench::PeakKind::kInt8Dot);
  const bench::PeakKind peak_kind = bf16_dot   ? bench::PeakKind::kBf16Dot
                                    : int8_dot ? bench::PeakKind::kInt8Dot
                                               : bench::PeakKind::kFp32Fma;
  // Only the CPU's own peak is measured: on another device the fraction is left out.
  const bool on_cpu = model->backend().name() == "cpu";
  double peak = 0;
  for (const auto& p : peaks) {
    if (p.kind == peak_kind && p.threads == threads) peak = p.value;
  }
  if (peak == 0 && on_cpu) peak = bench::measure_peak(peak_kind, threads, 0.2).value;

  int block = model->spec().attention == AttentionKind::kBlockCausal ? c.train_block_size : 0;
  if (a.has("attn-block")) {
    const int64_t b = a.integer("attn-block", 0);
    if (b < 0) throw UsageError("--attn-block must be >= 0");
    block = static_cast<int>(b);
  }
  for (int T : canvases) {
    if (T + context > c.max_positions) {
      throw UsageError("--canvas + --context: " + std::to_string(T + context) +
                       " exceeds the model's " + std::to_string(c.max_positions) + " positions");
    }
  }

  out["model"] = a.required("model");
  out["family"] = c.family_name();
  out["weights_dtype"] = dtype_name(model->weight_dtype());
  out["parameters"] = model->parameter_count();
  out["device"] = model->backend().name();
  out["cpu"] = cpu_description();
  out["isa"] = cpu::isa_name(cpu::best_isa());
  out["precision"] = matmul;
  out["threads"] = threads;
  out["load_ms"] = load_ms;
  if (on_cpu) {
    out["peak_kind"] = bench::peak_kind_name(peak_kind);
    out["peak_gflops"] = peak;
  }
  out["block_size"] = block;
  out["context"] = context;
  if (!as_json) {
    std::printf("model %s: %s, %.1fM parameters, %s weights; load %.1f ms\n",
                a.required("model").c_str(), c.family_name().c_str(),
                model->parameter_count() / 1e6, dtype_name(model->weight_dtype()), load_ms);
    std::printf("device %s (%s, kernels %s), %d threads, precision %s; peak %s %.1f GFLOP/s\n",
                model->backend().name().c_str(), cpu_description().c_str(),
                cpu::isa_name(cpu::best_isa()), threads, matmul.c_str(),
                bench::peak_kind_name(peak_kind), peak);
    std::printf("%7s %10s %10s %10s %10s %10s %9s %9s\n", "canvas", "median_ms", "min_ms", "max_ms",
                "first_ms", "cpu_ms", "GFLOP/s", "of_peak");
  }
  json results = json::array();
  for (int T : canvases) {
    OpProfile prof;
    const bench::ForwardTiming r =
        bench::time_forward(*model, T, block, static_cast<int>(reps), static_cast<int>(warmup),
                            threads, profile ? &prof : nullptr, static_cast<int>(context));
    const double frac = peak > 0 ? r.gflops / peak : 0;
    results.push_back({{"canvas", T},
                       {"median_ms", r.median_ms},
                       {"min_ms", r.min_ms},
                       {"max_ms", r.max_ms},
                       {"first_ms", r.first_ms},
                       {"cpu_ms", r.cpu_ms},
                       {"gflop", r.flops.total() / 1e9},
                       {"gflops", r.gflops},
                       {"peak_fraction", on_cpu ? json(frac) : json(nullptr)}});
    if (!as_json) {
      std::printf("%7d %10.1f %10.1f %10.1f %10.1f %10.1f %9.1f %8.1f%%\n", T, r.median_ms,
                  r.min_ms, r.max_ms, r.first_ms, r.cpu_ms, r.gflops, 100 * frac);
      std::fflush(stdout);
    }
    if (profile) {
      results.back()["profile"] = profile_json(prof, peak);
      if (!as_json) print_profile(prof, peak, T);
    }
  }
  out["results"] = results;

  // --- end-to-end generation ---
  if (a.flag("generate")) {
    // A fixed amount of work (stop_at_eos false) unless the flags ask otherwise.
    TextOverrides overrides = {{"stop_at_eos", "false"}};
    for (auto& kv : decode_overrides(a)) overrides.push_back(std::move(kv));
    const DecodeParams params = resolve_decode_params(c, overrides);
    std::vector<int32_t> prompt;
    if (a.has("prompt-ids")) {
      prompt = parse_ids("prompt-ids", a.str("prompt-ids"));
    } else {
      const int64_t n = a.integer("prompt-len", 16);
      if (n < 1 || n > c.max_positions) throw UsageError("--prompt-len must be positive");
      // Byte-level token ids: regular tokens of every tokenizer, never a special id.
      for (int64_t i = 0; i < n; ++i) prompt.push_back(static_cast<int32_t>(32 + (i * 37) % 90));
    }
    const GenerateResult g = generate(*model, prompt, params);
    const double tps = g.total_ms > 0 ? g.output_ids.size() / (g.total_ms / 1e3) : 0;
    out["generate"] = {{"params", to_json(params)},
                       {"prompt_tokens", prompt.size()},
                       {"output_tokens", g.output_ids.size()},
                       {"forward_calls", g.forward_calls},
                       {"forward_tokens", g.forward_tokens},
                       {"total_ms", g.total_ms},
                       {"tokens_per_s", tps},
                       {"finish_reason", finish_reason_name(g.finish_reason)}};
    if (!as_json) {
      std::printf(
          "generate: %zu tokens in %.1f ms (%.2f tokens/s), %d forward calls, %lld "
          "positions computed, finish %s\n",
          g.output_ids.size(), g.total_ms, tps, g.forward_calls,
          static_cast<long long>(g.forward_tokens), finish_reason_name(g.finish_reason));
    }
  }

  out["rss_mb"] = bench::peak_rss_mb();
  if (as_json) {
    std::cout << out.dump() << std::endl;
  } else {
    std::printf("peak RSS %.0f MB\n", out["rss_mb"].get<double>());
  }
  return 0;
}

}  // namespace dlx::cli
