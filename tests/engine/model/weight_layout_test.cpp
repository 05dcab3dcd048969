// The weight list (for_each_weight) against real checkpoints: for every fixture family it
// names exactly the tensors the official code saved, with their shapes.
#include "engine/model/weight_layout.h"

#include <gtest/gtest.h>

#include <map>

#include "engine/formats/safetensors.h"
#include "engine/model/model_config.h"
#include "tests/support/test_util.h"

namespace dlx::test {
namespace {

class EveryFixture : public ::testing::TestWithParam<const char*> {};

TEST_P(EveryFixture, ListsExactlyTheCheckpointsTensorsWithTheirShapes) {
  const std::string dir = model_dir(GetParam());
  const ModelConfig c = load_model_config(dir);
  const TensorStore store = TensorStore::open(dir);
  std::map<std::string, std::vector<int64_t>> listed;
  for_each_weight(*c.spec, weight_dims(c), [&](const WeightSlot& w) {
    if (!w.required && !store.find(w.name)) return;
    listed[w.name] =
        w.is_vector() ? std::vector<int64_t>{w.cols} : std::vector<int64_t>{w.rows, w.cols};
  });
  std::map<std::string, std::vector<int64_t>> stored;
  for (const auto& [name, t] : store.all()) stored[name] = t->shape;
  EXPECT_EQ(listed, stored);
}

INSTANTIATE_TEST_SUITE_P(Families, EveryFixture,
                         ::testing::Values("llada", "dream", "sdar", "fast_dllm_v2"));

TEST(WeightLayout, LayerCountOnlyRepeatsTheLayerBlock) {
  const ModelConfig c = load_model_config(model_dir("dream"));
  WeightDims d = weight_dims(c);
  auto count = [&](int64_t layers) {
    d.layers = layers;
    int n = 0;
    for_each_weight(*c.spec, d, [&](const WeightSlot&) { ++n; });
    return n;
  };
  const int zero = count(0), one = count(1);
  EXPECT_EQ(zero, 3);  // embedding, final norm, lm_head
  EXPECT_EQ(count(5) - zero, 5 * (one - zero));
}

}  // namespace
}  // namespace dlx::test
