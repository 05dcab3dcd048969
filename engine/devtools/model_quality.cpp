#include "engine/devtools/model_quality.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/decode/generate.h"
#include "engine/util/error.h"

namespace dlx::quality {
namespace {

// log(sum(exp(row))) accumulated in float64, shifted by the row's maximum so no term overflows.
double log_sum_exp(std::span<const float> row) {
  double m = -INFINITY;
  for (float x : row) m = std::max(m, static_cast<double>(x));
  double sum = 0;
  for (float x : row) sum += std::exp(static_cast<double>(x) - m);
  return m + std::log(sum);
}

std::string describe(const LoadedModel& m) {
  return m.info.path + " (" + m.info.family + ", vocab " + std::to_string(m.info.vocab) + ")";
}

}  // namespace

double kl_divergence(std::span<const float> ref, std::span<const float> model) {
  if (ref.size() != model.size() || ref.empty()) {
    throw Error(ErrorCode::kInternal, "kl_divergence: rows of " + std::to_string(ref.size()) +
                                          " and " + std::to_string(model.size()) + " logits");
  }
  const double lse_p = log_sum_exp(ref), lse_q = log_sum_exp(model);
  double kl = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double log_p = ref[i] - lse_p, log_q = model[i] - lse_q;
    kl += std::exp(log_p) * (log_p - log_q);
  }
  // KL >= 0; rounding can leave a -1e-17 for rows that differ in the last bits.
  return std::max(kl, 0.0);
}

int64_t argmax(std::span<const float> row) {
  return std::max_element(row.begin(), row.end()) - row.begin();
}

void LogitsAgreement::add_row(std::span<const float> ref, std::span<const float> model) {
  const double kl = kl_divergence(ref, model);
  rows += 1;
  kl_sum += kl;
  kl_max = std::max(kl_max, kl);
  top1_agree += argmax(ref) == argmax(model);
}

void LogitsAgreement::merge(const LogitsAgreement& other) {
  rows += other.rows;
  kl_sum += other.kl_sum;
  kl_max = std::max(kl_max, other.kl_max);
  top1_agree += other.top1_agree;
}

LogitsAgreement compare_logits(const float* ref, const float* model, int64_t rows, int64_t vocab) {
  LogitsAgreement a;
  const size_t v = static_cast<size_t>(vocab);
  for (int64_t r = 0; r < rows; ++r) {
    a.add_row({ref + r * vocab, v}, {model + r * vocab, v});
  }
  return a;
}

void GenerationAgreement::add(std::span<const int32_t> ref, std::span<const int32_t> model) {
  const size_t common = std::min(ref.size(), model.size());
  int64_t same = 0;
  for (size_t i = 0; i < common; ++i) same += ref[i] == model[i];
  generations += 1;
  identical += ref.size() == model.size() && same == static_cast<int64_t>(common);
  positions += static_cast<int64_t>(std::max(ref.size(), model.size()));
  matching += same;
}

void GenerationAgreement::merge(const GenerationAgreement& other) {
  generations += other.generations;
  identical += other.identical;
  positions += other.positions;
  matching += other.matching;
}

GenerationAgreement compare_generations(std::span<const int32_t> ref,
                                        std::span<const int32_t> model) {
  GenerationAgreement g;
  g.add(ref, model);
  return g;
}

void check_comparable(const LoadedModel& model, const LoadedModel& ref) {
  if (model.info.family != ref.info.family || model.info.vocab != ref.info.vocab) {
    throw Error(
        ErrorCode::kInvalidArgument,
        "cannot compare models of different " +
            std::string(model.info.family != ref.info.family ? "families" : "vocabulary sizes") +
            ": --model " + describe(model) + " and --ref " + describe(ref) +
            " (quality compares two versions of the same weights)",
        "ref");
  }
}

const std::vector<std::string>& default_prompts() {
  static const std::vector<std::string> prompts = {
      "What is the capital of France?",
      "Write one sentence about the sea.",
      "List three prime numbers.",
      "12+35=",
      "Translate 'good morning' into Spanish.",
  };
  return prompts;
}

std::vector<std::string> read_prompts(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(ErrorCode::kNotFound, path + ": cannot read the prompt file", "prompts");
  std::vector<std::string> prompts;
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (line.front() != '{') {
      prompts.push_back(line);
      continue;
    }
    const std::string where = path + ":" + std::to_string(line_no);
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("prompt") || !j["prompt"].is_string()) {
      throw Error(ErrorCode::kInvalidArgument,
                  where +
                      ": a line starting with '{' must be a JSON object with a string "
                      "\"prompt\"",
                  "prompts");
    }
    prompts.push_back(j["prompt"].get<std::string>());
  }
  if (prompts.empty()) throw Error(ErrorCode::kInvalidArgument, path + ": no prompts", "prompts");
  return prompts;
}

std::vector<int32_t> encode_prompt(const Tokenizer& tok, const std::string& text, bool chat) {
  if (chat && !tok.config().chat_template.empty()) {
    const nlohmann::json messages = nlohmann::json::array({{{"role", "user"}, {"content", text}}});
    return tok.encode(render_chat(tok, messages, /*add_generation_prompt=*/true), false);
  }
  return tok.encode(text, true);
}

namespace {

// Logits of every row of the first denoising step's canvas: (canvas, V) copied to the host.
std::vector<float> first_step_logits(const Model& m, std::span<const int32_t> canvas) {
  const ModelConfig& c = m.config();
  const int64_t T = static_cast<int64_t>(canvas.size());
  if (T > c.max_positions) {
    throw Error(ErrorCode::kOutOfRange,
                "prompt + gen_length = " + std::to_string(T) +
                    " positions exceed the model's maximum of " + std::to_string(c.max_positions),
                "gen_length");
  }
  Session st = m.new_session(T, T);
  ForwardSpan span;
  span.ids = canvas;
  span.block_size = m.spec().attention == AttentionKind::kBlockCausal ? c.train_block_size : 0;
  const float* logits = m.forward(st, span);
  return std::vector<float>(logits, logits + T * c.vocab);
}

}  // namespace

PromptQuality compare_prompt(const Model& model, const Model& ref, std::span<const int32_t> prompt,
                             const DecodeParams& model_params, const DecodeParams& ref_params) {
  PromptQuality q;
  q.prompt_tokens = static_cast<int64_t>(prompt.size());

  // The canvas both models score: the prompt, then the reference's gen_length masks.
  std::vector<int32_t> canvas(prompt.begin(), prompt.end());
  canvas.resize(prompt.size() + static_cast<size_t>(ref_params.gen_length), ref.config().mask_id);
  const std::vector<float> ref_logits = first_step_logits(ref, canvas);
  const std::vector<float> model_logits = first_step_logits(model, canvas);
  q.logits = compare_logits(ref_logits.data(), model_logits.data(),
                            static_cast<int64_t>(canvas.size()), ref.config().vocab);

  q.ref_output = generate(ref, prompt, ref_params).output_ids;
  q.model_output = generate(model, prompt, model_params).output_ids;
  q.generation = compare_generations(q.ref_output, q.model_output);
  return q;
}

}  // namespace dlx::quality
