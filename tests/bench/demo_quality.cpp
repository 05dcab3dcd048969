// demo_quality: the speed-vs-quality table of the bundled demo model. Exact-answer accuracy on
// the held-out synthetic prompts (tests/bench/demo_heldout.jsonl, never seen in training) and
// forward calls per answer token (up to and including the end token), for the fixed schedule
// and threshold decoding at 0.9 / 0.7 / 0.5, each without a cache and with the prefix and dual
// caches; then, at schedule and threshold 0.9, the official algorithm against each
// fewer-forwards key alone and the `fast` preset. Prints markdown tables. Numbers are
// reported, never asserted. Every setting starts from `preset official`.
//
// With several --model options, one table of accuracy per model (a folder or any file the
// engine loads, e.g. a GGUF per weight type, each at its own --precision) for the fixed schedule
// and threshold 0.9 without a cache: what each format costs in accuracy.
//
//   demo_quality [--model PATH [--precision auto|exact|bf16|int8]]... [--prompts FILE]
//                [--threads N] [--limit N]
//                [--gen-length N] [--block-length B]     (default: the model's own defaults)
//                [--only keys]                           (only the fewer-forwards table)
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "engine/decode/decode_params.h"
#include "engine/engine.h"
#include "engine/util/error.h"
#include "tests/bench/demo_task.h"

namespace {

struct Setting {
  std::string name;
  dlx::CommitRule commit;
  double threshold;
  dlx::CacheMode cache;
  std::string variant = "official";  // a fewer-forwards key alone, or the fast preset
};

// The fewer-forwards variants: `preset official` plus one key (the fast preset's value of it;
// eos_fill with its eos_fill_prob), or the whole fast preset.
void apply_variant(dlx::DecodeParams& p, const std::string& variant) {
  dlx::DecodeParams fast = p;
  dlx::apply_preset(fast, dlx::Preset::kFast);
  if (variant == "eos_fill") {
    p.eos_fill = true;
    p.eos_fill_prob = fast.eos_fill_prob;
  } else if (variant == "early_commit") {
    p.early_commit = fast.early_commit;
  } else if (variant == "early_commit_steps 2") {
    p.early_commit_steps = 2;
  } else if (variant == "threshold_relax") {
    p.threshold_relax = fast.threshold_relax;
  } else if (variant == "suffix_window 8") {
    p.suffix_window = 8;
  } else if (variant == "fast") {
    p = fast;
  }
}

// The task a held-out prompt belongs to: "copy: 123" -> copy, "12+35=" -> add.
int task_index(const std::string& prompt) {
  if (prompt.rfind("copy:", 0) == 0) return 1;
  if (prompt.rfind("reverse:", 0) == 0) return 2;
  if (prompt.rfind("sort:", 0) == 0) return 3;
  return 0;
}

struct Row {
  int correct = 0, n = 0;
  int task_correct[4] = {}, task_n[4] = {};
  long forwards = 0, tokens = 0, answer_tokens = 0;
  double ms = 0;

  // "8% / 100% / 100% / 100%": accuracy per task (add / copy / reverse / sort).
  std::string per_task() const {
    std::string out;
    for (int k = 0; k < 4; ++k) {
      char cell[16];
      std::snprintf(cell, sizeof(cell), "%s%.0f%%", k ? " / " : "",
                    task_n[k] ? 100.0 * task_correct[k] / task_n[k] : 0.0);
      out += cell;
    }
    return out;
  }
};

// A model to evaluate: a path the engine loads and the precision of its products.
struct ModelSpec {
  std::string path;
  std::string precision = "auto";
};

using Tasks = std::vector<std::pair<std::string, std::string>>;  // prompt, answer

Row evaluate(const dlx::LoadedModel& lm, const Tasks& tasks, const dlx::DecodeParams& p) {
  Row r;
  for (const auto& [prompt, answer] : tasks) {
    const dlx::demo::TaskOutcome o = dlx::demo::run_task(*lm.model, *lm.tokenizer, prompt, p);
    const bool ok = o.text == answer;
    r.correct += ok;
    r.n += 1;
    r.task_correct[task_index(prompt)] += ok;
    r.task_n[task_index(prompt)] += 1;
    r.forwards += o.result.forward_calls;
    r.tokens += static_cast<long>(o.result.output_ids.size());
    r.answer_tokens += o.result.answer_tokens;
    r.ms += o.result.total_ms;
  }
  return r;
}

dlx::DecodeParams setting_params(dlx::DecodeParams p, const Setting& s) {
  p.steps.reset();  // one token per step
  p.commit = s.commit;
  p.threshold = s.threshold;
  p.cache = s.cache;
  p.temperature = 0;
  p.seed = 0;
  apply_variant(p, s.variant);
  return p;
}

int run(int argc, char** argv) {
  std::vector<ModelSpec> models;
  std::string prompts = DLX_SOURCE_DIR "/tests/bench/demo_heldout.jsonl";
  int threads = 0, limit = 0, gen_length = 0, block_length = -1;
  bool only_keys = false;
  for (int i = 1; i < argc; i += 2) {
    const std::string k = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "demo_quality: %s needs a value\n", k.c_str());
      return 2;
    }
    const std::string v = argv[i + 1];
    if (k == "--model") {
      models.push_back({v});
    } else if (k == "--precision") {
      // Applies to the --model before it (or to the default model).
      if (models.empty()) models.push_back({DLX_SOURCE_DIR "/models/dlx-demo-llada"});
      models.back().precision = v;
    } else if (k == "--prompts") {
      prompts = v;
    } else if (k == "--threads") {
      threads = std::atoi(v.c_str());
    } else if (k == "--limit") {
      limit = std::atoi(v.c_str());
    } else if (k == "--gen-length") {
      gen_length = std::atoi(v.c_str());
    } else if (k == "--block-length") {
      block_length = std::atoi(v.c_str());
    } else if (k == "--only" && v == "keys") {
      only_keys = true;
    } else {
      std::fprintf(stderr, "demo_quality: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (models.empty()) models.push_back({DLX_SOURCE_DIR "/models/dlx-demo-llada"});
  Tasks tasks;
  std::ifstream in(prompts);
  if (!in) {
    std::fprintf(stderr, "demo_quality: cannot read %s\n", prompts.c_str());
    return 1;
  }
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    tasks.emplace_back(j.at("prompt").get<std::string>(), j.at("answer").get<std::string>());
    if (limit > 0 && static_cast<int>(tasks.size()) == limit) break;
  }

  dlx::EngineOptions eo;
  eo.device = "cpu";
  eo.threads = threads;
  dlx::Engine engine(eo);
  std::vector<std::shared_ptr<const dlx::LoadedModel>> loaded;
  for (const ModelSpec& m : models) {
    dlx::ModelLoadOptions lo;
    lo.precision = dlx::parse_precision(m.precision);
    lo.need_tokenizer = true;
    loaded.push_back(engine.load(m.path, lo));
  }

  using dlx::CacheMode;
  using dlx::CommitRule;
  std::vector<Setting> settings, keys;
  for (const CacheMode cache : {CacheMode::kNone, CacheMode::kPrefix, CacheMode::kDual}) {
    settings.push_back({"schedule (1 token/step)", CommitRule::kSchedule, 0.9, cache});
    for (double t : {0.9, 0.7, 0.5}) {
      char name[32];
      std::snprintf(name, sizeof(name), "threshold %.1f", t);
      settings.push_back({name, CommitRule::kThreshold, t, cache});
    }
  }
  for (const Setting& base :
       {Setting{"schedule", CommitRule::kSchedule, 0.9, CacheMode::kNone},
        Setting{"threshold 0.9", CommitRule::kThreshold, 0.9, CacheMode::kNone}}) {
    for (const CacheMode cache : {CacheMode::kNone, CacheMode::kPrefix, CacheMode::kDual}) {
      for (const char* v : {"official", "eos_fill", "early_commit", "early_commit_steps 2",
                            "threshold_relax", "suffix_window 8", "fast"}) {
        Setting s = base;
        s.cache = cache;
        s.variant = v;
        keys.push_back(s);
      }
    }
  }

  dlx::DecodeParams defaults = dlx::default_decode_params(loaded[0]->model->config());
  dlx::apply_preset(defaults, dlx::Preset::kOfficial);
  if (gen_length > 0) defaults.gen_length = gen_length;
  if (block_length >= 0) defaults.block_length = block_length;
  std::printf("%zu held-out prompts, gen_length %d, block_length %d, greedy\n\n", tasks.size(),
              defaults.gen_length, defaults.block_length);

  // Several models: the most careful decoding and a fast one, without a cache, per model.
  if (loaded.size() > 1) {
    std::printf(
        "| model | format | weights | precision | decoding | accuracy | add / copy / reverse / "
        "sort | tokens/forward | ms/prompt |\n|---|---|---|---|---|---|---|---|---|\n");
    for (const auto& lm : loaded) {
      for (const Setting& s : {settings[0], settings[1]}) {
        const Row r = evaluate(*lm, tasks, setting_params(defaults, s));
        std::printf("| %s | %s | %s | %s | %s | %.1f%% (%d/%d) | %s | %.2f | %.1f |\n",
                    lm->info.path.c_str(), lm->info.format.c_str(), lm->info.dtype.c_str(),
                    dlx::precision_name(lm->model->precision()), s.name.c_str(),
                    100.0 * r.correct / r.n, r.correct, r.n, r.per_task().c_str(),
                    static_cast<double>(r.answer_tokens) / r.forwards, r.ms / r.n);
        std::fflush(stdout);
      }
    }
    return 0;
  }

  const dlx::LoadedModel& lm = *loaded[0];
  std::printf("demo model %s, precision %s\n\n", lm.info.path.c_str(),
              dlx::precision_name(lm.model->precision()));
  if (!only_keys) {
    std::printf(
        "| decoding | cache | accuracy | add / copy / reverse / sort | forward calls | answer "
        "tokens | forwards/token | tokens/forward | ms/prompt |\n"
        "|---|---|---|---|---|---|---|---|---|\n");
    for (const Setting& s : settings) {
      const Row r = evaluate(lm, tasks, setting_params(defaults, s));
      std::printf("| %s | %s | %.1f%% (%d/%d) | %s | %ld | %ld | %.2f | %.2f | %.1f |\n",
                  s.name.c_str(), dlx::to_string(s.cache), 100.0 * r.correct / r.n, r.correct, r.n,
                  r.per_task().c_str(), r.forwards, r.answer_tokens,
                  static_cast<double>(r.forwards) / r.answer_tokens,
                  static_cast<double>(r.answer_tokens) / r.forwards, r.ms / r.n);
      std::fflush(stdout);
    }
    std::printf("\n");
  }

  // Fewer forwards: each key alone and the fast preset against the official algorithm of the
  // same commit rule and cache (the anchor: x official = its forwards/token over this row's).
  std::printf(
      "| decoding | cache | keys | accuracy | forwards/answer token | x official | ms/prompt | "
      "x official |\n|---|---|---|---|---|---|---|---|\n");
  double anchor_fpt = 0, anchor_ms = 0;
  for (const Setting& s : keys) {
    const Row r = evaluate(lm, tasks, setting_params(defaults, s));
    const double fpt = static_cast<double>(r.forwards) / r.answer_tokens, ms = r.ms / r.n;
    if (s.variant == "official") {
      anchor_fpt = fpt;
      anchor_ms = ms;
    }
    std::printf("| %s | %s | %s | %.1f%% (%d/%d) | %.2f | %.2fx fewer | %.1f | %.2fx faster |\n",
                s.name.c_str(), dlx::to_string(s.cache), s.variant.c_str(), 100.0 * r.correct / r.n,
                r.correct, r.n, fpt, anchor_fpt / fpt, ms, anchor_ms / ms);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "demo_quality: %s\n", e.what());
    return 1;
  }
}
