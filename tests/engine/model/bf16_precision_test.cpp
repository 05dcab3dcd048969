// The default precision of bf16 weights (bf16 products, f32 sums: what PyTorch computes for a
// bf16 model) against the official float32 goldens of every family: relative logits error,
// top-1 agreement and KL per golden input, and how many golden generations stay token for
// token. The numbers are measured on these tiny random checkpoints, whose large weights make
// their logits far more sensitive to rounding than a trained model's (README "CPU kernels
// and precision" has the table); the bounds below keep a margin over the worst measured.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "engine/backend/cpu/cpu_kernels.h"
#include "engine/decode/generate.h"
#include "tests/support/gguf_test_util.h"
#include "tests/support/golden_cases.h"
#include "tests/support/test_util.h"

namespace dlx::test {
namespace {

using json = nlohmann::json;

int block_of(const json& e) {
  return e["attention"].is_object() ? e["attention"]["block_causal"].get<int>() : 0;
}

std::shared_ptr<const LoadedModel> bf16_model(const std::string& fam, const char* precision) {
  ModelLoadOptions o;
  o.weights = "model.bf16.safetensors";
  if (precision) o.precision = parse_precision(precision);
  return load_cpu(model_dir(fam), o);
}

class Bf16Precision : public ::testing::TestWithParam<std::string> {};

TEST_P(Bf16Precision, IsTheDefaultWhereTheCpuHasABf16Dot) {
  auto lm = bf16_model(GetParam(), nullptr);
  EXPECT_EQ(lm->model->precision(), cpu::has_bf16_dot() ? Precision::kBF16 : Precision::kExact);
  // f32 weights keep f32 products; asking bf16 of them gives (and reports) f32 products.
  EXPECT_EQ(load_cpu(model_dir(GetParam()))->model->precision(), Precision::kExact);
  ModelLoadOptions o;
  o.precision = Precision::kBF16;
  EXPECT_EQ(load_cpu(model_dir(GetParam()), o)->model->precision(), Precision::kExact);
}

TEST_P(Bf16Precision, LogitsStayCloseToTheFloat32Goldens) {
  const std::string fam = GetParam();
  auto fast = bf16_model(fam, nullptr);
  auto exact = bf16_model(fam, "exact");
  const json index = json::parse(read_file(model_dir(fam) + "/logits/index.json"));
  for (const auto& e : index["entries"]) {
    const auto ids = e["input_ids"].get<std::vector<int32_t>>();
    const auto golden = read_f32(model_dir(fam) + "/logits/" + e["file"].get<std::string>());
    const auto got = forward_logits(*fast->model, ids, block_of(e));
    const auto ref = forward_logits(*exact->model, ids, block_of(e));
    const Agreement a = agreement(got, golden, fast->model->config().vocab);
    const double rel = rel_diff(got, golden);
    std::cout << "[bf16 precision] " << fam << " " << e["file"].get<std::string>() << " ("
              << e["weights_dtype"].get<std::string>() << " golden) rel " << rel << " (exact "
              << rel_diff(ref, golden) << ") mean KL " << a.mean_kl << " top-1 " << a.top1 << "\n";
    // Against the golden of the same bf16 weights only the activations' rounding is left;
    // against the f32 weights' golden the weights' rounding is counted too.
    const bool same_weights = e["weights_dtype"] == "bf16";
    EXPECT_LE(rel, same_weights ? 0.02 : 0.08) << e["file"];
    EXPECT_GE(a.top1, same_weights ? 0.9 : 0.8) << e["file"];
  }
}

TEST_P(Bf16Precision, GoldenGenerationsThatStayTokenExact) {
  // Three ways per required golden case: the f32 goldens, the bf16 weights with f32 products,
  // and the default (bf16 products). Most differences from the goldens come from rounding the
  // weights to bf16 at all; what matters for the default is how often bf16 products change a
  // generation of the same weights.
  const std::string fam = GetParam();
  auto fast = bf16_model(fam, nullptr);
  auto exact = bf16_model(fam, "exact");
  const json cases = json::parse(read_file(model_dir(fam) + "/cases.json"));
  int n = 0, fast_golden = 0, exact_golden = 0, fast_exact = 0;
  std::string which;
  for (const auto& c : cases["cases"]) {
    if (!c["required"].get<bool>()) continue;
    const DecodeParams p = golden_case_params(fast->model->config(), c);
    const auto prompt = c["prompt_ids"].get<std::vector<int32_t>>();
    const auto golden = c["expected_ids"].get<std::vector<int32_t>>();
    const auto a = generate(*fast->model, prompt, p).output_ids;
    const auto b = generate(*exact->model, prompt, p).output_ids;
    ++n;
    fast_golden += a == golden;
    exact_golden += b == golden;
    fast_exact += a == b;
    if (a == golden) which += " " + std::to_string(n - 1);
  }
  std::cout << "[bf16 generations] " << fam << " (" << n << " required cases): token-exact "
            << "with the f32 goldens: default " << fast_golden << ", bf16 weights exact "
            << exact_golden << "; default == bf16 weights exact: " << fast_exact
            << "; cases equal to the goldens:" << which << "\n";
  RecordProperty("default_vs_golden", fast_golden);
  RecordProperty("exact_vs_golden", exact_golden);
  RecordProperty("default_vs_exact", fast_exact);
  ASSERT_GT(n, 0);
  // Measured with AMX and with AVX512_BF16 (llada 12 of 17, dream 3 of 9, sdar 19-20 of 22,
  // fast_dllm_v2 7 of 36; README): the floors leave room for another summation order. These
  // checkpoints' logits are nearly tied in many rows (random weights), so one rounding flips a
  // token; the trained demo model's accuracy is the quality measure (README).
  const std::map<std::string, int> floor = {
      {"llada", 9}, {"dream", 2}, {"sdar", 15}, {"fast_dllm_v2", 5}};
  EXPECT_GE(fast_exact, floor.at(fam));
}

INSTANTIATE_TEST_SUITE_P(AllFamilies, Bf16Precision,
                         ::testing::Values("llada", "dream", "sdar", "fast_dllm_v2"));

}  // namespace
}  // namespace dlx::test
