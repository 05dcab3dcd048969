// `diffulex quality`: how closely --model reproduces --ref (two versions of the same weights:
// a quantized file against its f32 folder, int8 products against exact ones) over a prompt
// set: KL divergence and top-1 agreement of the logits of a first denoising step, and agreement
// of greedy generations. A markdown table, or one JSON object with --json.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "engine/devtools/model_quality.h"
#include "engine/util/error.h"
#include "service/cli/args.h"
#include "service/cli/commands.h"
#include "service/cli/decode_flags.h"
#include "service/cli/model_loader.h"

namespace dlx::cli {
namespace {

using quality::GenerationAgreement;
using quality::LogitsAgreement;

// The quality defaults, applied before the user's decoding flags: short greedy generations.
constexpr const char* kDefaultGenLength = "32";

std::shared_ptr<const LoadedModel> load_ref(Engine& engine, const Args& a) {
  ModelLoadOptions lo;
  lo.weights = a.str("ref-weights");
  lo.precision = parse_precision(a.str("ref-precision", "auto"));
  lo.need_tokenizer = true;
  auto lm = engine.load(a.required("ref"), lo);
  if (!lm->fallback_note.empty()) {
    std::fprintf(stderr, "diffulex: falling back to CPU: %s\n", lm->fallback_note.c_str());
  }
  return lm;
}

nlohmann::json model_json(const LoadedModel& lm) {
  return {{"path", lm.info.path},
          {"format", lm.info.format},
          {"family", lm.info.family},
          {"dtype", lm.info.dtype},
          {"precision", precision_name(lm.model->precision())}};
}

nlohmann::json agreement_json(const LogitsAgreement& l, const GenerationAgreement& g) {
  return {{"rows", l.rows},
          {"kl_mean", l.kl_mean()},
          {"kl_max", l.kl_max},
          {"top1_agreement", l.top1_rate()},
          {"generations_identical", g.identical},
          {"generations", g.generations},
          {"generation_positions", g.positions},
          {"generation_matching", g.matching},
          {"generation_match", g.match_fraction()}};
}

// A prompt for a table cell: one line, about 32 bytes, pipes escaped.
std::string cell(const std::string& text) {
  std::string out;
  for (char ch : text) {
    // Cut at 32 bytes, never inside a UTF-8 character (continuation bytes are 10xxxxxx).
    if (out.size() >= 32 && (static_cast<unsigned char>(ch) & 0xC0) != 0x80) {
      out += "...";
      break;
    }
    if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
    if (ch == '|') out += '\\';
    out += ch;
  }
  return out;
}

void print_row(const std::string& name, const std::string& prompt, const std::string& tokens,
               const LogitsAgreement& l, const GenerationAgreement& g) {
  const std::string identical =
      g.generations == 1
          ? (g.identical ? "identical" : "differs")
          : std::to_string(g.identical) + "/" + std::to_string(g.generations) + " identical";
  std::printf("| %s | %s | %s | %lld | %.3g | %.3g | %.1f%% | %s | %.1f%% (%lld/%lld) |\n",
              name.c_str(), prompt.c_str(), tokens.c_str(), static_cast<long long>(l.rows),
              l.kl_mean(), l.kl_max, 100.0 * l.top1_rate(), identical.c_str(),
              100.0 * g.match_fraction(), static_cast<long long>(g.matching),
              static_cast<long long>(g.positions));
}

}  // namespace

int cmd_quality(int argc, char** argv, int first) {
  std::set<std::string> options = model_options();
  options.insert(decode_flag_options().begin(), decode_flag_options().end());
  options.insert({"ref", "ref-weights", "ref-precision", "prompts", "limit"});
  Args a(argc, argv, first, options, {"help", "json", "no-chat"});
  if (a.flag("help")) {
    std::cout
        << "usage: diffulex quality [--model PATH] --ref PATH [--prompts FILE] [--limit N]\n"
           "       [--precision auto|exact|bf16|int8] [--ref-precision auto|exact|bf16|int8]\n"
           "       [--weights FILE] [--ref-weights FILE] [--no-chat] [--json]\n"
           "       [--device auto|cpu|opencl[:N]] [--threads N] [--KEY VALUE ...]\n"
           "Compares --model against --ref, two versions of the same weights, per prompt and "
           "overall:\n"
           "KL(ref || model) of the logits of a first denoising step (prompt + gen_length "
           "masks; mean and\n"
           "max over rows), top-1 agreement of those rows, and agreement of greedy generations "
           "(identical\n"
           "outputs, fraction of matching positions). Prompts: FILE has one per line or JSON "
           "lines\n"
           "{\"prompt\": ...}; without it a built-in set. They are chat-rendered when the model "
           "has a chat\n"
           "template (--no-chat: plain text). Decoding: each model's defaults, greedy, "
           "gen_length "
        << kDefaultGenLength
        << ",\n"
           "then the decoding keys given (README: Decoding):";
    std::cout << decode_flags_help() << "\n";
    return 0;
  }
  a.required("ref");
  const int64_t limit = a.integer("limit", 0);
  if (limit < 0) throw UsageError("--limit must be >= 0 (0 = every prompt)");
  std::vector<std::string> prompts =
      a.has("prompts") ? quality::read_prompts(a.str("prompts")) : quality::default_prompts();
  if (limit > 0 && static_cast<int64_t>(prompts.size()) > limit) prompts.resize(limit);

  Engine engine = engine_from_args(a);
  const auto model = load_model_from_args(engine, a, /*need_tokenizer=*/true);
  const auto ref = load_ref(engine, a);
  quality::check_comparable(*model, *ref);

  TextOverrides overrides = {{"gen_length", kDefaultGenLength}, {"temperature", "0"}};
  for (auto& kv : decode_overrides(a)) overrides.push_back(std::move(kv));
  const DecodeParams model_params = resolve_decode_params(model->model->config(), overrides);
  const DecodeParams ref_params = resolve_decode_params(ref->model->config(), overrides);

  // Every prompt is encoded and checked before any work: a tokenizer mismatch or a canvas the
  // models cannot hold fails at once.
  const bool chat = !a.flag("no-chat");
  std::vector<std::vector<int32_t>> prompt_ids;
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto ids = quality::encode_prompt(*model->tokenizer, prompts[i], chat);
    if (ids != quality::encode_prompt(*ref->tokenizer, prompts[i], chat)) {
      throw Error(ErrorCode::kInvalidArgument,
                  "prompt " + std::to_string(i + 1) + " (\"" + cell(prompts[i]) +
                      "\") has different token ids under --model " + model->info.path +
                      " and --ref " + ref->info.path +
                      ": the models need the same tokenizer and chat template",
                  "ref");
    }
    const int prompt_len = static_cast<int>(ids.size());
    validate(model_params, model->model->config(), prompt_len);
    validate(ref_params, ref->model->config(), prompt_len);
    prompt_ids.push_back(std::move(ids));
  }

  const bool json = a.flag("json");
  if (!json) {
    std::printf("model: %s (%s, %s, precision %s)\nref:   %s (%s, %s, precision %s)\n",
                model->info.path.c_str(), model->info.family.c_str(), model->info.dtype.c_str(),
                precision_name(model->model->precision()), ref->info.path.c_str(),
                ref->info.family.c_str(), ref->info.dtype.c_str(),
                precision_name(ref->model->precision()));
    std::printf("decoding: %s\n\n", to_json(ref_params).dump().c_str());
    std::printf(
        "| # | prompt | tokens | rows | KL mean | KL max | top-1 | generation | positions "
        "matching |\n|---|---|---|---|---|---|---|---|---|\n");
  }
  LogitsAgreement all_logits;
  GenerationAgreement all_gen;
  nlohmann::json per_prompt = nlohmann::json::array();
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto& ids = prompt_ids[i];
    const quality::PromptQuality q =
        quality::compare_prompt(*model->model, *ref->model, ids, model_params, ref_params);
    all_logits.merge(q.logits);
    all_gen.merge(q.generation);
    if (json) {
      nlohmann::json j = agreement_json(q.logits, q.generation);
      j["prompt"] = prompts[i];
      j["prompt_tokens"] = q.prompt_tokens;
      j["ref_output"] = q.ref_output;
      j["model_output"] = q.model_output;
      per_prompt.push_back(std::move(j));
    } else {
      print_row(std::to_string(i + 1), cell(prompts[i]), std::to_string(q.prompt_tokens), q.logits,
                q.generation);
      std::fflush(stdout);
    }
  }
  if (json) {
    const nlohmann::json out = {{"model", model_json(*model)},
                                {"ref", model_json(*ref)},
                                {"params", to_json(ref_params)},
                                {"prompts", per_prompt},
                                {"overall", agreement_json(all_logits, all_gen)}};
    std::cout << out.dump() << "\n";
  } else {
    print_row("all", std::to_string(prompts.size()) + " prompts", "", all_logits, all_gen);
  }
  return 0;
}

}  // namespace dlx::cli
