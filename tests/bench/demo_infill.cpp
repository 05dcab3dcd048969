// demo_infill: infill accuracy of the bundled demo model (README: Infill). For every held-out
// task (tests/bench/demo_heldout.jsonl) whose answer has at least 3 tokens, the canvas is the
// chat prompt and the correct reply with its middle tokens masked as one hole (first and last
// token fixed), then the reply's <|eot_id|>, optionally <|endoftext|> padding to the model's
// canvas length (what training saw). An answer counts when the filled reply equals the correct
// one. The anchor, in the same run: plain generation of the whole reply for the same prompts.
// Numbers are printed, never asserted.
//
//   demo_infill [--model DIR] [--prompts FILE] [--limit N] [--threads N]
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "engine/decode/template_generate.h"
#include "engine/engine.h"
#include "engine/util/error.h"
#include "tests/bench/demo_task.h"

namespace {

using Tasks = std::vector<std::pair<std::string, std::string>>;  // prompt, answer

// The task a held-out prompt belongs to: "12+35=" add, copy, reverse, sort.
int task_index(const std::string& prompt) {
  if (prompt.rfind("copy:", 0) == 0) return 1;
  if (prompt.rfind("reverse:", 0) == 0) return 2;
  if (prompt.rfind("sort:", 0) == 0) return 3;
  return 0;
}

struct Row {
  int correct = 0, n = 0;
  int task_correct[4] = {}, task_n[4] = {};
  long forwards = 0;

  void add(const std::string& prompt, bool ok, int forward_calls) {
    correct += ok;
    n += 1;
    task_correct[task_index(prompt)] += ok;
    task_n[task_index(prompt)] += 1;
    forwards += forward_calls;
  }
  void print(const std::string& name) const {
    std::printf("| %s | %.1f%% (%d/%d) |", name.c_str(), n ? 100.0 * correct / n : 0.0, correct, n);
    for (int k = 0; k < 4; ++k) {
      std::printf("%s%d/%d", k ? " / " : " ", task_correct[k], task_n[k]);
    }
    std::printf(" | %ld |\n", forwards);
  }
};

struct Setting {
  std::string name;
  bool pad = false;       // <|endoftext|> padding after <|eot_id|> up to the canvas length
  bool official = false;  // preset official, one token per step; else the model's default
};

// The model's default decoding (threshold 0.9, preset fast), or the official schedule.
dlx::DecodeParams decoding(const dlx::DecodeParams& defaults, bool official) {
  dlx::DecodeParams p = defaults;
  if (official) {
    dlx::apply_preset(p, dlx::Preset::kOfficial);
    p.commit = dlx::CommitRule::kSchedule;
    p.steps.reset();
    p.block_steps.reset();
  }
  return p;
}

int run(int argc, char** argv) {
  std::string model_dir = DLX_SOURCE_DIR "/models/dlx-demo-llada";
  std::string prompts = DLX_SOURCE_DIR "/tests/bench/demo_heldout.jsonl";
  int limit = 0, threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--model") {
      model_dir = v;
    } else if (k == "--prompts") {
      prompts = v;
    } else if (k == "--limit") {
      limit = std::atoi(v.c_str());
    } else if (k == "--threads") {
      threads = std::atoi(v.c_str());
    } else {
      std::fprintf(stderr, "demo_infill: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  Tasks tasks;
  std::ifstream in(prompts);
  if (!in) {
    std::fprintf(stderr, "demo_infill: cannot read %s\n", prompts.c_str());
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
  dlx::ModelLoadOptions lo;
  lo.need_tokenizer = true;
  const auto lm = engine.load(model_dir, lo);
  const dlx::Tokenizer& tok = *lm->tokenizer;
  const dlx::ModelConfig& cfg = lm->model->config();
  const int32_t eot = tok.config().eos_token_id, pad = tok.config().pad_token_id;
  const dlx::DecodeParams defaults = dlx::default_decode_params(cfg);

  const std::vector<Setting> settings = {
      {"reply + eot, model default (threshold 0.9, preset fast)", false, false},
      {"reply + eot + padding, model default", true, false},
      {"reply + eot, official schedule (1 token/step)", false, true},
      {"reply + eot + padding, official schedule", true, true}};
  std::vector<Row> rows(settings.size());
  Row anchor[2];  // plain generation: model default, official schedule
  int skipped = 0, hole_tokens = 0;
  for (const auto& [prompt, answer] : tasks) {
    const std::vector<int32_t> reply = tok.encode(answer, false);
    if (reply.size() < 3) {  // no middle to mask
      ++skipped;
      continue;
    }
    hole_tokens += static_cast<int>(reply.size()) - 2;
    const nlohmann::json messages =
        nlohmann::json::array({{{"role", "user"}, {"content", prompt}}});
    dlx::CanvasSpec spec;
    spec.prompt = tok.encode(dlx::render_chat(tok, messages, /*add_generation_prompt=*/true));
    for (size_t s = 0; s < settings.size(); ++s) {
      dlx::CanvasSpec c = spec;
      c.region = reply;
      std::fill(c.region.begin() + 1, c.region.end() - 1, cfg.mask_id);
      c.region.push_back(eot);
      if (settings[s].pad) {
        while (static_cast<int>(c.region.size()) < defaults.gen_length) c.region.push_back(pad);
      }
      dlx::CanvasHole h;
      h.begin = 1;
      h.length = h.min_tokens = static_cast<int>(reply.size()) - 2;
      c.holes.push_back(h);
      const dlx::DecodeParams p = decoding(defaults, settings[s].official);
      const dlx::GenerateResult g = dlx::generate(*lm->model, c, p);
      std::vector<int32_t> filled(g.output_ids.begin(), g.output_ids.begin() + reply.size());
      rows[s].add(prompt, filled == reply, g.forward_calls);
    }
    for (int a = 0; a < 2; ++a) {
      const dlx::demo::TaskOutcome o =
          dlx::demo::run_task(*lm->model, tok, prompt, decoding(defaults, a == 1));
      anchor[a].add(prompt, o.text == answer, o.result.forward_calls);
    }
  }
  std::printf(
      "demo model %s: %zu held-out prompts, %d with a middle to mask (%d skipped: answers "
      "under 3 tokens), %d hole tokens\n\n",
      lm->info.path.c_str(), tasks.size(), anchor[0].n, skipped, hole_tokens);
  std::printf(
      "| canvas, decoding | exact replies | add / copy / reverse / sort | forward calls "
      "|\n|---|---|---|---|\n");
  for (size_t s = 0; s < settings.size(); ++s) rows[s].print("infill: " + settings[s].name);
  anchor[0].print("anchor: plain generation of the whole reply, model default");
  anchor[1].print("anchor: plain generation of the whole reply, official schedule");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "demo_infill: %s\n", e.what());
    return 1;
  }
}
