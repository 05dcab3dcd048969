// demo_quality: the speed-vs-quality table of the bundled demo model. Exact-answer accuracy on
// the held-out synthetic prompts (tests/bench/demo_heldout.jsonl, never seen in training) and
// forward calls per answer token (up to and including the end token), for the fixed schedule
// and threshold decoding at 0.9 / 0.7 / 0.5, each without a cache and with the prefix and dual
// caches; then, at schedule and threshold 0.9, the official algorithm against each
// fewer-forwards key alone and the `fast` preset. Prints markdown tables. Numbers are
// reported, never asserted. Every setting starts from `preset official`.
//
//   demo_quality [--model DIR] [--prompts FILE] [--threads N] [--limit N]
//                [--gen-length N] [--block-length B]     (default: the model's own defaults)
//                [--only keys]                           (only the fewer-forwards table)
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "engine/backend/backend_factory.h"
#include "engine/decode/decode_params.h"
#include "engine/model/model.h"
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
};

int run(int argc, char** argv) {
  std::string model_dir = DLX_SOURCE_DIR "/models/dlx-demo-llada";
  std::string prompts = DLX_SOURCE_DIR "/tests/bench/demo_heldout.jsonl";
  int threads = 0, limit = 0, gen_length = 0, block_length = -1;
  bool only_keys = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--model")
      model_dir = v;
    else if (k == "--prompts")
      prompts = v;
    else if (k == "--threads")
      threads = std::atoi(v.c_str());
    else if (k == "--limit")
      limit = std::atoi(v.c_str());
    else if (k == "--gen-length")
      gen_length = std::atoi(v.c_str());
    else if (k == "--block-length")
      block_length = std::atoi(v.c_str());
    else if (k == "--only" && v == "keys")
      only_keys = true;
    else {
      std::fprintf(stderr, "demo_quality: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  std::vector<std::pair<std::string, std::string>> tasks;
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

  auto backend = dlx::make_backend("cpu", threads, nullptr);
  const auto model = dlx::Model::load(model_dir, backend, {});
  const auto tok = dlx::Tokenizer::load(model_dir);

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

  dlx::DecodeParams defaults = dlx::default_decode_params(model->config());
  dlx::apply_preset(defaults, dlx::Preset::kOfficial);
  if (gen_length <= 0) gen_length = defaults.gen_length;
  if (block_length < 0) block_length = defaults.block_length;
  std::printf("demo model %s, %zu held-out prompts, gen_length %d, block_length %d, greedy\n\n",
              model_dir.c_str(), tasks.size(), gen_length, block_length);
  auto run_setting = [&](const Setting& s) {
    dlx::DecodeParams p = defaults;
    p.gen_length = gen_length;
    p.block_length = block_length;
    p.steps.reset();  // one token per step
    p.commit = s.commit;
    p.threshold = s.threshold;
    p.cache = s.cache;
    p.temperature = 0;
    p.seed = 0;
    apply_variant(p, s.variant);
    Row r;
    for (const auto& [prompt, answer] : tasks) {
      const dlx::demo::TaskOutcome o = dlx::demo::run_task(*model, *tok, prompt, p);
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
  };
  auto per_task_cells = [](const Row& r) {
    std::string per_task;
    for (int k = 0; k < 4; ++k) {
      char cell[16];
      std::snprintf(cell, sizeof(cell), "%s%.0f%%", k ? " / " : "",
                    r.task_n[k] ? 100.0 * r.task_correct[k] / r.task_n[k] : 0.0);
      per_task += cell;
    }
    return per_task;
  };

  if (!only_keys) {
    std::printf(
        "| decoding | cache | accuracy | add / copy / reverse / sort | forward calls | answer "
        "tokens | forwards/token | tokens/forward | ms/prompt |\n"
        "|---|---|---|---|---|---|---|---|---|\n");
    for (const Setting& s : settings) {
      const Row r = run_setting(s);
      std::printf("| %s | %s | %.1f%% (%d/%d) | %s | %ld | %ld | %.2f | %.2f | %.1f |\n",
                  s.name.c_str(), dlx::to_string(s.cache), 100.0 * r.correct / r.n, r.correct, r.n,
                  per_task_cells(r).c_str(), r.forwards, r.answer_tokens,
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
    const Row r = run_setting(s);
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
